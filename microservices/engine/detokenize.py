"""Token ids -> text deltas that are safe to send one by one.

Byte-level BPE pieces can end inside a UTF-8 character, and some tokenizers
only know how to space a piece once they see the next one; decoding a sliding
window and holding back text that ends in U+FFFD fixes both (the approach of
TGI and vLLM). Stop strings are cut here too, holding back any tail that could
still grow into one, so a client never receives part of a stop string."""
from __future__ import annotations

REPLACEMENT = "\ufffd"


class TextStream:
    def __init__(self, tokenizer, stop: tuple[str, ...] = ()):
        self.tok = tokenizer
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0
        self.stop = tuple(s for s in stop if s)
        self.held = ""  # decoded but not sent: might be the start of a stop string
        self.stopped = False

    def _decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def push(self, token_id: int) -> str:
        """Add one token; return the text that may be sent now (maybe empty)."""
        self.ids.append(token_id)
        prefix = self._decode(self.ids[self.prefix_offset:self.read_offset])
        full = self._decode(self.ids[self.prefix_offset:])
        if len(full) <= len(prefix) or full.endswith(REPLACEMENT):
            return ""
        delta = full[len(prefix):]
        self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
        return self._cut(delta)

    def _cut(self, delta: str) -> str:
        if not self.stop:
            return delta
        text = self.held + delta
        hits = [i for i in (text.find(s) for s in self.stop) if i >= 0]
        if hits:
            self.stopped = True
            self.held = ""
            return text[:min(hits)]
        keep = 0  # longest tail of text that is a proper prefix of a stop string
        for s in self.stop:
            for n in range(min(len(s) - 1, len(text)), keep, -1):
                if text.endswith(s[:n]):
                    keep = n
                    break
        self.held = text[len(text) - keep:] if keep else ""
        return text[:len(text) - keep]

    def flush(self) -> str:
        """At the end of the stream: whatever was held back is ordinary text."""
        out = self.held
        self.held = ""
        tail = self._decode(self.ids[self.prefix_offset:])
        prefix = self._decode(self.ids[self.prefix_offset:self.read_offset])
        if len(tail) > len(prefix):
            out += tail[len(prefix):].rstrip(REPLACEMENT)
        return out
