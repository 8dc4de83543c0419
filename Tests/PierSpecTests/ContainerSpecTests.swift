import Testing
@testable import PierSpec
