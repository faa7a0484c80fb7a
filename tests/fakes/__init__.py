"""Hand-written fakes that speak real wire formats over HTTP on 127.0.0.1 (model servers; GitHub elsewhere)."""
