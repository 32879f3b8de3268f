// The library: the face and everything below it. It adds no code of its own. The one that ships
// is built from it in Embedded Swift by scripts/build-embedded.py (no Swift runtime inside);
// swift build links it in normal Swift with the flags in Package.swift (static runtime), for
// comparison and development. Both use exports.map and the SONAME.
@_exported import OutboundEvents
