def words(text):
    return text.split()


def word_counts(text):
    counts = {}
    for word in words(text):
        key = word.lower()
        counts[key] = counts.get(key, 0) + 1
    return counts
