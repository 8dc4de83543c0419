import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// Builds images without running containers: new layers from host files, a new config, a new
/// manifest, written as an OCI image layout that holds only the new blobs (the base's blobs
/// are already where the image goes). Deterministic: the same request gives the same digests.
public struct ImageBuilder: Sendable {
    public init() {}

    /// Builds `request` into a new OCI image layout at `layout`, which must not exist.
    public func build(_ request: ImageBuildRequest, into layout: URL) throws -> ImageBuildResult {
        guard !FileManager.default.fileExists(atPath: layout.path) else {
            throw ImageBuildError.io("\(layout.path) already exists; choose an empty output path")
        }
        let temp = layout.deletingLastPathComponent().appendingPathComponent(".\(layout.lastPathComponent).tmp-\(AtomicFile.randomSuffix())")
        let writer = try OCILayoutWriter(creating: temp)
        do {
            let result = try build(request, writer: writer)
            guard rename(temp.path, layout.path) == 0 else {
                throw ImageBuildError.io("cannot move the layout to \(layout.path): \(String(cString: strerror(errno)))")
            }
            var final = result
            final.layout = layout
            return final
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw error
        }
    }

    private func build(_ request: ImageBuildRequest, writer: OCILayoutWriter) throws -> ImageBuildResult {
        let epoch = request.sourceDateEpoch ?? Self.sourceDateEpochFromEnvironment() ?? 0
        let created = Self.rfc3339(epoch)
        let ownership = request.ownership ?? .init(uid: 0, gid: 0)

        var baseLayers: [Descriptor] = []
        var config: ImageConfig
        var annotations: [String: String]?
        if let base = request.base {
            let manifest: ImageManifest
            do {
                manifest = try ImageManifest.decode(base.manifest)
                config = try ImageConfig.decode(base.config)
            } catch { throw ImageBuildError.invalidBase(error.description) }
            let configDigest = Digest.sha256(of: base.config)
            guard configDigest == manifest.config.digest else {
                throw ImageBuildError.invalidBase("its config hashes to \(configDigest) but the manifest names \(manifest.config.digest)")
            }
            guard config.rootfs.diffIDs.count == manifest.layers.count else {
                throw ImageBuildError.invalidBase("the manifest has \(manifest.layers.count) layers but the config \(config.rootfs.diffIDs.count) diff ids")
            }
            baseLayers = manifest.layers.map { layer in
                var l = layer
                l.mediaType = MediaType.ociLayerType(for: layer.mediaType)
                return l
            }
            annotations = [AnnotationKey.baseDigest: Digest.sha256(of: base.manifest).description]
            if let name = base.reference { annotations?[AnnotationKey.baseName] = name }
        } else {
            let platform = request.platform ?? .host
            config = ImageConfig(architecture: platform.architecture, os: platform.os, variant: platform.variant,
                                 config: ContainerConfig(), rootfs: RootFS(diffIDs: []), history: [])
        }

        var newLayers: [Descriptor] = []
        var history = config.history ?? []
        for layer in request.layers {
            var contents = LayerContents()
            for item in layer.items { try contents.add(item) }
            let (descriptor, diffID) = try writer.addLayer { tarWriter in
                try contents.write(to: tarWriter, mtime: epoch, ownership: layer.ownership ?? ownership)
            }
            newLayers.append(descriptor)
            config.rootfs.diffIDs.append(diffID)
            history.append(History(created: created, createdBy: layer.createdBy ?? "pier build"))
        }
        config.history = history
        config.created = created
        config.config = request.changes.applied(to: config.config ?? ContainerConfig())

        let configData = try config.encoded()
        let configDescriptor = try writer.addBlob(configData, mediaType: MediaType.ociConfig)
        let manifest = ImageManifest(config: configDescriptor, layers: baseLayers + newLayers, annotations: annotations)
        let manifestDescriptor = try writer.addBlob(try manifest.encoded(), mediaType: MediaType.ociManifest)
        try writer.writeIndex([(manifestDescriptor, request.tag)])
        return ImageBuildResult(layout: writer.root, manifest: manifestDescriptor, config: configDescriptor,
                                newLayers: newLayers, diffIDs: config.rootfs.diffIDs, reference: request.tag)
    }

    static func sourceDateEpochFromEnvironment() -> Int64? {
        ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap { Int64($0) }
    }

    /// Seconds since 1970 as RFC 3339 in UTC, e.g. `1970-01-01T00:00:00Z`.
    static func rfc3339(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}

extension ImageConfigChanges {
    /// The base's container config with these changes applied, Docker's way.
    func applied(to base: ContainerConfig) -> ContainerConfig {
        var c = base
        if let entrypoint {
            c.entrypoint = entrypoint
            // Docker: a new ENTRYPOINT resets an inherited CMD.
            if cmd == nil { c.cmd = nil }
        }
        if let cmd { c.cmd = cmd }
        if !env.isEmpty {
            var list = c.env ?? []
            for variable in env {
                let entry = "\(variable.key)=\(variable.value)"
                if let i = list.firstIndex(where: { $0 == variable.key || $0.hasPrefix(variable.key + "=") }) {
                    list[i] = entry
                } else {
                    list.append(entry)
                }
            }
            c.env = list
        }
        if let workingDir { c.workingDir = workingDir }
        if let user { c.user = user }
        if !labels.isEmpty { c.labels = (c.labels ?? [:]).merging(labels) { $1 } }
        if !exposedPorts.isEmpty {
            var ports = c.exposedPorts ?? [:]
            for port in exposedPorts { ports[port.contains("/") ? port : port + "/tcp"] = EmptyObject() }
            c.exposedPorts = ports
        }
        if !volumes.isEmpty {
            var v = c.volumes ?? [:]
            for volume in volumes { v[volume] = EmptyObject() }
            c.volumes = v
        }
        if let stopSignal { c.stopSignal = stopSignal }
        return c
    }
}
