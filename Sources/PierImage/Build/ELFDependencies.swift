import Foundation

/// The shared libraries an ELF executable loads, found the way the dynamic loader finds them
/// (`PT_INTERP`, `DT_NEEDED`, `DT_RPATH`/`DT_RUNPATH` with `$ORIGIN`, `/etc/ld.so.conf`, the
/// multiarch and default directories), without running anything.
struct ELFDependencies {
    /// What an ELF file says about its dynamic linking.
    struct Info: Equatable {
        var is64Bit: Bool
        var machine: UInt16
        var interpreter: String?
        var needed: [String]
        var rpath: [String]
        var runpath: [String]
    }

    /// Library search directories besides the ones an ELF file names itself.
    var searchDirectories: [String]

    init(searchDirectories: [String]? = nil) {
        self.searchDirectories = searchDirectories ?? Self.systemSearchDirectories()
    }

    /// Every file the executable at `path` needs at run time: its interpreter and all shared
    /// libraries, recursively, as absolute host paths, sorted. Empty for a static binary.
    func files(for path: String) throws(ImageBuildError) -> [String] {
        let root = try Self.read(path)
        guard root.interpreter != nil || !root.needed.isEmpty else { return [] }
        var result = Set<String>()
        if let interpreter = root.interpreter { result.insert(interpreter) }
        var queue: [(file: String, info: Info)] = [(path, root)]
        var seenNames = Set<String>()
        while let (file, info) = queue.popLast() {
            for name in info.needed where seenNames.insert(name).inserted {
                let found = try locate(name, neededBy: file, info: info, root: root)
                guard result.insert(found).inserted else { continue }
                queue.append((found, try Self.read(found)))
            }
        }
        return result.sorted()
    }

    private func locate(_ name: String, neededBy file: String, info: Info, root: Info) throws(ImageBuildError) -> String {
        let origin = (file as NSString).deletingLastPathComponent
        func expand(_ dirs: [String]) -> [String] {
            dirs.map { $0.replacingOccurrences(of: "$ORIGIN", with: origin).replacingOccurrences(of: "${ORIGIN}", with: origin) }
        }
        if name.contains("/") {
            let candidate = name.hasPrefix("/") ? name : origin + "/" + name
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            throw .missingLibrary(name, neededBy: file)
        }
        let dirs = (info.runpath.isEmpty ? expand(info.rpath) : []) + expand(info.runpath) + searchDirectories
        for dir in dirs {
            let candidate = (dir.hasSuffix("/") ? dir : dir + "/") + name
            guard let candidateInfo = try? Self.read(candidate) else { continue }
            // A library of another class or machine (e.g. 32-bit) is skipped, as the loader does.
            if candidateInfo.is64Bit == root.is64Bit && candidateInfo.machine == root.machine { return candidate }
        }
        throw .missingLibrary(name, neededBy: file)
    }

    /// Directories from `/etc/ld.so.conf` (with its includes), then the multiarch and default ones.
    static func systemSearchDirectories() -> [String] {
        var dirs: [String] = []
        var visited = Set<String>()
        func parse(_ file: String) {
            guard visited.insert(file).inserted, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return }
            for rawLine in text.split(separator: "\n") {
                let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?
                    .trimmingCharacters(in: .whitespaces) ?? ""
                if line.isEmpty { continue }
                if line.hasPrefix("include ") {
                    let pattern = line.dropFirst("include ".count).trimmingCharacters(in: .whitespaces)
                    for match in glob(pattern) { parse(match) }
                } else if line.hasPrefix("/") {
                    dirs.append(line)
                }
            }
        }
        parse("/etc/ld.so.conf")
        let triplets = ["x86_64-linux-gnu", "aarch64-linux-gnu", "arm-linux-gnueabihf", "arm-linux-gnueabi", "i386-linux-gnu"]
        for t in triplets { dirs += ["/lib/\(t)", "/usr/lib/\(t)"] }
        dirs += ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]
        var unique: [String] = []
        for d in dirs where !unique.contains(d) { unique.append(d) }
        return unique
    }

    private static func glob(_ pattern: String) -> [String] {
        let directory = (pattern as NSString).deletingLastPathComponent
        let filePattern = (pattern as NSString).lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { fnmatch(filePattern, $0, 0) == 0 }.sorted().map { directory + "/" + $0 }
    }

    // MARK: ELF parsing

    /// Reads the dynamic-linking facts of an ELF file; throws `notELF` for anything else.
    static func read(_ path: String) throws(ImageBuildError) -> Info {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw .unreadableSource(path, reason: "cannot open it")
        }
        guard let info = parse(data) else { throw .notELF(path) }
        return info
    }

    /// Parses an ELF image; nil when it is not a well-formed ELF file.
    static func parse(_ data: Data) -> Info? {
        let bytes = [UInt8](data.prefix(64))
        guard bytes.count >= 52, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else { return nil }
        let is64 = bytes[4] == 2
        let little = bytes[5] == 1
        guard bytes[4] == 1 || is64, bytes[5] == 1 || bytes[5] == 2 else { return nil }
        let reader = Reader(data: data, little: little)
        guard let machine = reader.u16(18) else { return nil }
        let phoff: UInt64?, phentsize: UInt16?, phnum: UInt16?
        if is64 {
            phoff = reader.u64(32); phentsize = reader.u16(54); phnum = reader.u16(56)
        } else {
            phoff = reader.u32(28).map(UInt64.init); phentsize = reader.u16(42); phnum = reader.u16(44)
        }
        guard let phoff, let phentsize, let phnum, phnum < 4096 else { return nil }

        struct Segment { var type: UInt32; var offset: UInt64; var vaddr: UInt64; var filesz: UInt64 }
        var segments: [Segment] = []
        for i in 0..<Int(phnum) {
            let base = Int(phoff) + i * Int(phentsize)
            guard let type = reader.u32(base) else { return nil }
            if is64 {
                guard let off = reader.u64(base + 8), let vaddr = reader.u64(base + 16), let filesz = reader.u64(base + 32) else { return nil }
                segments.append(Segment(type: type, offset: off, vaddr: vaddr, filesz: filesz))
            } else {
                guard let off = reader.u32(base + 4), let vaddr = reader.u32(base + 8), let filesz = reader.u32(base + 16) else { return nil }
                segments.append(Segment(type: type, offset: UInt64(off), vaddr: UInt64(vaddr), filesz: UInt64(filesz)))
            }
        }
        var info = Info(is64Bit: is64, machine: machine, interpreter: nil, needed: [], rpath: [], runpath: [])
        let ptLoad: UInt32 = 1, ptDynamic: UInt32 = 2, ptInterp: UInt32 = 3
        if let interp = segments.first(where: { $0.type == ptInterp }) {
            info.interpreter = reader.string(Int(interp.offset), limit: Int(interp.filesz))
        }
        guard let dynamic = segments.first(where: { $0.type == ptDynamic }) else { return info }

        func fileOffset(_ vaddr: UInt64) -> Int? {
            for s in segments where s.type == ptLoad && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz {
                return Int(vaddr - s.vaddr + s.offset)
            }
            return nil
        }
        let entrySize = is64 ? 16 : 8
        var strtab: UInt64?
        var neededOffsets: [UInt64] = [], rpathOffsets: [UInt64] = [], runpathOffsets: [UInt64] = []
        var position = Int(dynamic.offset)
        let end = Int(dynamic.offset + dynamic.filesz)
        while position + entrySize <= end {
            let tag: UInt64?, value: UInt64?
            if is64 { tag = reader.u64(position); value = reader.u64(position + 8) } else {
                tag = reader.u32(position).map(UInt64.init); value = reader.u32(position + 4).map(UInt64.init)
            }
            guard let tag, let value else { return nil }
            switch tag {
            case 0: position = end
            case 1: neededOffsets.append(value)
            case 5: strtab = value
            case 15: rpathOffsets.append(value)
            case 29: runpathOffsets.append(value)
            default: break
            }
            position += entrySize
        }
        guard let strtab, let table = fileOffset(strtab) else { return info }
        info.needed = neededOffsets.compactMap { reader.string(table + Int($0), limit: 4096) }
        info.rpath = rpathOffsets.compactMap { reader.string(table + Int($0), limit: 4096) }.flatMap { $0.split(separator: ":").map(String.init) }
        info.runpath = runpathOffsets.compactMap { reader.string(table + Int($0), limit: 4096) }.flatMap { $0.split(separator: ":").map(String.init) }
        return info
    }

    /// Bounds-checked little/big-endian reads.
    private struct Reader {
        let data: Data
        let little: Bool

        func bytes(_ offset: Int, _ count: Int) -> [UInt8]? {
            guard offset >= 0, count >= 0, offset + count <= data.count else { return nil }
            let start = data.startIndex + offset
            return [UInt8](data[start..<(start + count)])
        }

        func value(_ offset: Int, _ count: Int) -> UInt64? {
            guard let b = bytes(offset, count) else { return nil }
            let ordered = little ? b.reversed() : b
            return ordered.reduce(0) { $0 << 8 | UInt64($1) }
        }

        func u16(_ offset: Int) -> UInt16? { value(offset, 2).map { UInt16($0) } }
        func u32(_ offset: Int) -> UInt32? { value(offset, 4).map { UInt32($0) } }
        func u64(_ offset: Int) -> UInt64? { value(offset, 8) }

        func string(_ offset: Int, limit: Int) -> String? {
            guard offset >= 0, offset < data.count else { return nil }
            let start = data.startIndex + offset
            let end = min(data.endIndex, start + max(limit, 0))
            guard let nul = data[start..<end].firstIndex(of: 0) else { return nil }
            return String(decoding: data[start..<nul], as: UTF8.self)
        }
    }
}
