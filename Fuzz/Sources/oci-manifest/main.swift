import PierFuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    if let problem = FuzzTarget.ociManifest.run(UnsafeRawBufferPointer(start: start, count: count)) { fatalError(problem) }
    return 0
}
