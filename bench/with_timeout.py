"""Writes a copy of a scenario with its request_timeout set and unanswered buyers tolerated
(`expect.may_also_violate: [every_buyer_answered]`): at a timeout shorter than the server's
answer, buyers are meant to go unanswered, and what is measured is the safety verdict.
Usage: python3 bench/with_timeout.py SCENARIO TIMEOUT OUT"""
import re
import sys

src, timeout, out = sys.argv[1:4]
text = open(src).read()
if re.search(r"^request_timeout:.*$", text, flags=re.M):
    text = re.sub(r"^request_timeout:.*$", f"request_timeout: {timeout}", text, flags=re.M)
else:
    text += f"\nrequest_timeout: {timeout}\n"
if "may_also_violate: [" in text:
    text = text.replace("may_also_violate: [", "may_also_violate: [every_buyer_answered, ", 1)
elif re.search(r"^expect:\s*$", text, flags=re.M):
    text = re.sub(r"^expect:\s*$", "expect:\n  may_also_violate: [every_buyer_answered]", text, count=1, flags=re.M)
else:
    text += "\nexpect:\n  may_also_violate: [every_buyer_answered]\n"
open(out, "w").write(text)
