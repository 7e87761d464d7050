// Bounds-checked little-endian loads from a byte buffer, shared by the zip and pickle readers. Both
// read offsets and lengths out of untrusted files, so every load answers nil instead of reading past
// the end; each caller turns nil into its own typed error.

extension UnsafeRawBufferPointer {
    /// The little-endian integer of type `T` at `offset`, or nil when it does not lie wholly inside.
    func littleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T? {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= count - size, let base = baseAddress else { return nil }
        return T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// The bytes `range`, or nil when it does not lie wholly inside (or is reversed).
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer? {
        guard range.lowerBound >= 0, range.upperBound <= count else { return nil }
        return UnsafeRawBufferPointer(rebasing: self[range])
    }
}

/// `a + b` for non-negative operands read from a file, or nil when it overflows.
@inline(__always)
func checkedSum(_ a: Int, _ b: Int) -> Int? {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? nil : sum
}

/// `a * b`, or nil when it overflows.
@inline(__always)
func checkedProduct(_ a: Int, _ b: Int) -> Int? {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? nil : product
}
