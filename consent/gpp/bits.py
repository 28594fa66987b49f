"""The GPP encoding primitives, from the IAB GPP consent string specification: big-endian bit
fields, Fibonacci-coded integers and ranges, and base64url without padding (bits padded with
zeros to a whole byte, then to a whole character, as the IAB's own encoder does)."""

from __future__ import annotations

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
MAX_FIBONACCI_BITS = 40  # ids and offsets of a GPP header stay far below F(40)


class GPPStringError(ValueError):
    """The string is not a valid GPP string; `section` and `field` say where it is wrong."""

    def __init__(self, message: str, *, section: str = "", field: str = "") -> None:
        self.section = section
        self.field = field
        where = ".".join(part for part in (section, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


def _fibonacci(limit: int) -> list[int]:
    numbers = [1, 2]
    while len(numbers) < limit:
        numbers.append(numbers[-1] + numbers[-2])
    return numbers


FIBONACCI = _fibonacci(MAX_FIBONACCI_BITS)


class BitReader:
    """Reads a base64url segment bit by bit; errors name the section and the field."""

    def __init__(self, segment: str, *, section: str) -> None:
        self.section = section
        if not segment:
            raise GPPStringError("the segment is empty", section=section)
        bad = next((c for c in segment if c not in _INDEX), None)
        if bad is not None:
            raise GPPStringError(
                f"{bad!r} is not a base64url character (A-Z a-z 0-9 - _, no padding)",
                section=section,
            )
        self.bits = "".join(format(_INDEX[c], "06b") for c in segment)
        self.pos = 0

    def _take(self, n: int, field: str) -> str:
        if self.pos + n > len(self.bits):
            raise GPPStringError(
                f"the segment is truncated: needs {n} bits at offset {self.pos}",
                section=self.section,
                field=field,
            )
        out = self.bits[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self, n: int, field: str) -> int:
        return int(self._take(n, field), 2)

    def bool(self, field: str) -> bool:
        return self._take(1, field) == "1"

    def fibonacci(self, field: str) -> int:
        value, index, previous = 0, 0, "0"
        while True:
            bit = self._take(1, field)
            if bit == "1" and previous == "1":
                return value
            if index >= MAX_FIBONACCI_BITS:
                raise GPPStringError(
                    "Fibonacci integer is too long", section=self.section, field=field
                )
            if bit == "1":
                value += FIBONACCI[index]
            index, previous = index + 1, bit

    def fibonacci_range(self, field: str, *, max_id: int) -> list[int]:
        """Ids of a Range(Fibonacci); ids above `max_id` are refused before any list is built
        (a tiny string could otherwise name a group of millions)."""
        ids: list[int] = []
        last = 0
        for _ in range(self.int(12, field)):
            is_group = self.bool(field)
            start = last + self.fibonacci(field)
            end = start + self.fibonacci(field) if is_group else start
            if end > max_id:
                raise GPPStringError(
                    f"names id {end}, above {max_id}", section=self.section, field=field
                )
            ids.extend(range(start, end + 1))
            last = end
        return ids


class BitWriter:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def int(self, value: int, n: int) -> None:
        self.parts.append(format(value, f"0{n}b"))

    def bool(self, value: bool) -> None:
        self.parts.append("1" if value else "0")

    def fibonacci(self, value: int) -> None:
        if value < 1:
            raise ValueError("Fibonacci coding needs a positive integer")
        index = max(i for i, f in enumerate(FIBONACCI) if f <= value)
        code = ["0"] * (index + 1)
        remainder = value
        for i in range(index, -1, -1):
            if FIBONACCI[i] <= remainder:
                code[i] = "1"
                remainder -= FIBONACCI[i]
        self.parts.append("".join(code) + "1")

    def fibonacci_range(self, ids: list[int]) -> None:
        runs: list[tuple[int, int]] = []
        for i in sorted(set(ids)):
            if runs and runs[-1][1] == i - 1:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((i, i))
        self.int(len(runs), 12)
        last = 0
        for start, end in runs:
            self.bool(start != end)
            self.fibonacci(start - last)
            if start != end:
                self.fibonacci(end - start)
            last = end

    def base64url(self) -> str:
        bits = "".join(self.parts)
        bits += "0" * (-len(bits) % 8)
        bits += "0" * (-len(bits) % 6)
        return "".join(ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))
