// The shipped library: the face and everything below it, linked with the flags in
// Package.swift (static Swift runtime, exports.map, SONAME). It adds no code of its own.
@_exported import OutboundEvents
