extension StringProtocol {
    /// Where `needle` first occurs, compared byte by byte in UTF-8, or nil. The standard
    /// `firstRange(of:)` lives in the regex module, which Embedded Swift does not have.
    public func byteRange(of needle: some StringProtocol) -> Range<Index>? {
        let pattern = Array(needle.utf8)
        guard let first = pattern.first else { return startIndex..<startIndex }
        let bytes = utf8
        var start = bytes.startIndex
        while let candidate = bytes[start...].firstIndex(of: first) {
            var index = candidate
            var matched = 0
            while matched < pattern.count, index != bytes.endIndex, bytes[index] == pattern[matched] {
                bytes.formIndex(after: &index)
                matched += 1
            }
            if matched == pattern.count { return candidate..<index }
            start = bytes.index(after: candidate)
        }
        return nil
    }
}
