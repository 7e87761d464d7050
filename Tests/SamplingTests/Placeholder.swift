import Testing
@Test func samplingPlaceholder() {}
