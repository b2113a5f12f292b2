"""Docker's word processing for Dockerfile arguments (pure).

`expand` substitutes `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` and
removes quotes and escapes the way Docker's shell lexer does; `words` also
splits on unquoted whitespace (ADD/COPY sources, EXPOSE ports, ...). Inside
single quotes nothing is expanded; the escape character protects the next one.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.errors import InvalidArgument


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.text = text
        self.env = env
        self.escape = escape
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def process(self, split: bool) -> list[str]:
        words: list[str] = []
        cur: list[str] = []
        in_word = False
        while self.pos < len(self.text):
            ch = self.next()
            if split and ch in " \t\n" :
                if in_word:
                    words.append("".join(cur))
                    cur, in_word = [], False
                continue
            in_word = True
            if ch == self.escape:
                if self.pos < len(self.text):
                    cur.append(self.next())
                continue
            if ch == "'":
                while self.pos < len(self.text) and self.peek() != "'":
                    cur.append(self.next())
                if self.pos >= len(self.text):
                    raise InvalidArgument(f"unexpected end of statement while looking for matching single-quote in {self.text!r}")
                self.next()
                continue
            if ch == '"':
                while self.pos < len(self.text) and self.peek() != '"':
                    c = self.next()
                    if c == self.escape and self.pos < len(self.text) and self.peek() in ('"', "$", self.escape):
                        cur.append(self.next())
                    elif c == "$":
                        cur.append(self.variable())
                    else:
                        cur.append(c)
                if self.pos >= len(self.text):
                    raise InvalidArgument(f"unexpected end of statement while looking for matching double-quote in {self.text!r}")
                self.next()
                continue
            if ch == "$":
                value = self.variable()
                if split and not cur and value == "" and self.peek() in " \t\n":
                    in_word = False
                cur.append(value)
                continue
            cur.append(ch)
        if in_word:
            words.append("".join(cur))
        return words

    def variable(self) -> str:
        ch = self.peek()
        if ch == "{":
            self.next()
            name = []
            while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
                name.append(self.next())
            var = "".join(name)
            if not var:
                raise InvalidArgument(f"bad substitution in {self.text!r}")
            op = self.peek()
            if op == "}":
                self.next()
                return self.env.get(var, "")
            if op == ":":
                self.next()
                mode = self.next()
                if mode not in ("-", "+"):
                    raise InvalidArgument(f"unsupported modifier ({mode}) in substitution: {self.text!r}")
                word = []
                depth = 0
                while self.pos < len(self.text):
                    c = self.peek()
                    if c == "}" and depth == 0:
                        break
                    if c == "$":
                        self.next()
                        word.append(self.variable())
                        continue
                    if c == self.escape:
                        self.next()
                        word.append(self.next())
                        continue
                    word.append(self.next())
                if self.next() != "}":
                    raise InvalidArgument(f"missing '}}' in {self.text!r}")
                value = self.env.get(var, "")
                alt = "".join(word)
                if mode == "-":
                    return value if value else alt
                return alt if value else ""
            raise InvalidArgument(f"bad substitution in {self.text!r}")
        name = []
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            name.append(self.next())
        if not name:
            return "$"
        return self.env.get("".join(name), "")


def expand(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word: variables substituted, quotes removed (spaces kept)."""
    return "".join(_Lexer(text, env, escape).process(split=False))


def words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Whitespace-separated words, each expanded."""
    return _Lexer(text, env, escape).process(split=True)
