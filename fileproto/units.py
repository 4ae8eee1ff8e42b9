"""Units every layer counts in (a leaf: it imports nothing)."""

#: Bytes in a mebibyte: file sizes, rates and memory are reported in MiB.
MIB = 1 << 20
