"""A model's reply -> a ``Suggestion`` the gates can check. One module per edit format:

- ``unified_diff``: a unified diff as models write it (applied by content, not by line numbers);
- ``search_replace``: SEARCH/REPLACE blocks;
- ``whole_block``: fenced whole functions, classes or files;
- ``review_json``: a review's JSON list of comments;

with the shared core in ``workspace`` (the PR head's files as edits change them), git's diff format in ``diff``
(reading git's output, writing clean patches), and the dispatcher in ``reply``. See docs/edit-formats.md.
"""

from bot.parse.reply import NO_EDIT, ParseResult, parse_patch, parse_reply

__all__ = ["NO_EDIT", "ParseResult", "parse_patch", "parse_reply"]
