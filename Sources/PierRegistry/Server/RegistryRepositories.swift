import PierOCI

/// How the registry names the images of an `ImageStore`: the repository of a reference is its
/// path below the registry host (`edge/sensor:1` → `edge/sensor`, `busybox` →
/// `library/busybox`, `localhost:5000/app` → `app`). A single-component name also finds the
/// Docker Hub official image (`busybox` → `library/busybox`), as docker clients send it. When
/// references of several registry hosts share a path and tag, the Docker Hub one wins, then the
/// first by name.
struct RegistryRepositories: Sendable {
    private var byRepository: [String: [String: ImageRecord]] = [:]

    init(records: [ImageRecord]) {
        for record in records.sorted(by: { Self.precedes($0, $1) }) {
            guard let tag = record.reference.tag else { continue }
            let repository = record.reference.path
            if byRepository[repository]?[tag] == nil { byRepository[repository, default: [:]][tag] = record }
        }
    }

    /// Every repository name, sorted.
    var names: [String] { byRepository.keys.sorted() }

    /// The stored repository name that `name` refers to, or nil when there is none.
    func resolve(_ name: String) -> String? {
        if byRepository[name] != nil { return name }
        let official = ImageReference.officialRepositoryPrefix + name
        if !name.contains("/"), byRepository[official] != nil { return official }
        return nil
    }

    /// The tags of a repository, sorted.
    func tags(in repository: String) -> [String] { (byRepository[repository] ?? [:]).keys.sorted() }

    /// The record a tag points at.
    func record(_ repository: String, tag: String) -> ImageRecord? { byRepository[repository]?[tag] }

    /// Every record of a repository.
    func records(in repository: String) -> [ImageRecord] {
        (byRepository[repository] ?? [:]).values.sorted { $0.reference.canonical < $1.reference.canonical }
    }

    private static func precedes(_ a: ImageRecord, _ b: ImageRecord) -> Bool {
        let aHub = a.reference.domain == ImageReference.defaultDomain
        let bHub = b.reference.domain == ImageReference.defaultDomain
        if aHub != bHub { return aHub }
        return a.reference.canonical < b.reference.canonical
    }
}
