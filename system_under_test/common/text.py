"""Text rules every service states in its schema, so clients and fuzzers can tell valid input.

Pure (no framework import): domain modules use them too. Whitespace is spelled out rather than
`\\s`, whose meaning differs between Python, JavaScript and Rust regexes.
"""

CONTROL = r"\x00-\x1f\x7f-\x9f"
BLANK = CONTROL + r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# Deliberately permissive: one "@", a dotted domain, nothing blank. Deliverability is the
# mail system's business; this only rejects what cannot be an address at all.
EMAIL_PATTERN = rf"^[^@{BLANK}]+@[^@{BLANK}]+\.[^@.{BLANK}]+$"
# Not blank, no control characters.
NAME_PATTERN = rf"^[^{CONTROL}]*[^{BLANK}][^{CONTROL}]*$"
