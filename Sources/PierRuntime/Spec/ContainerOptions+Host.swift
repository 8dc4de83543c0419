import Foundation
import PierSpec

extension ContainerOptions {
    /// What only the node that runs the container can check, after ``ContainerSpec/validate()``:
    /// bind sources exist, devices are device nodes here, and the CPU limit fits this node.
    public func checkOnHost(availableCPUs: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        for volume in volumes where !FileManager.default.fileExists(atPath: volume.source) {
            throw ContainerSpecError.hostPathMissing(flag: "--volume", path: volume.source)
        }
        for device in devices { _ = try DeviceMapping(resolving: device) }
        if let cpus { _ = try CPULimit(cpus: cpus.cpus, available: availableCPUs) }
    }
}
