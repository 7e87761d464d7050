import Testing
@Test func renderServerPlaceholder() {}
