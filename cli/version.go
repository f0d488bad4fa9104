package cli

// BinaryVersion is printed by `vcdb version`. The versions issue moves the
// authoritative value below cli (stores and streams carry it).
var BinaryVersion = "v25.2.0"
