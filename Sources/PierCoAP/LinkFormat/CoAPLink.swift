/// One link of a CoRE Link Format document (RFC 6690 §2): a target and its attributes, e.g.
/// `</sensors/temp>;rt="temperature-c";if="sensor";ct=0;obs`.
public struct CoAPLink: Codable, Sendable, Hashable {
    /// One target attribute; `value` is nil for flags such as `obs`.
    public struct Attribute: Codable, Sendable, Hashable {
        public var name: String
        public var value: String?

        public init(_ name: String, _ value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    /// The target, usually a path such as `/sensors/temp`.
    public var target: String
    /// Attributes in order of appearance.
    public var attributes: [Attribute]

    public init(target: String, attributes: [Attribute] = []) {
        self.target = target
        self.attributes = attributes
    }

    /// A resource link with the usual attributes: resource types, interfaces, content formats,
    /// an estimated size, observability and a title.
    public init(
        path: String, resourceTypes: [String] = [], interfaces: [String] = [], contentFormats: [UInt32] = [],
        size: Int? = nil, observable: Bool = false, title: String? = nil
    ) {
        var attrs: [Attribute] = []
        if !resourceTypes.isEmpty { attrs.append(Attribute("rt", resourceTypes.joined(separator: " "))) }
        if !interfaces.isEmpty { attrs.append(Attribute("if", interfaces.joined(separator: " "))) }
        if !contentFormats.isEmpty { attrs.append(Attribute("ct", contentFormats.map(String.init).joined(separator: " "))) }
        if let size { attrs.append(Attribute("sz", String(size))) }
        if observable { attrs.append(Attribute("obs")) }
        if let title { attrs.append(Attribute("title", title)) }
        self.init(target: path, attributes: attrs)
    }

    /// The values of an attribute, split on spaces for the space-separated ones (rt, if, ct, rel).
    public func values(_ name: String) -> [String] {
        attributes.filter { $0.name == name }.flatMap { a -> [String] in
            guard let v = a.value else { return [] }
            return CoAPLinkFormat.spaceSeparated.contains(name) ? v.split(separator: " ").map(String.init) : [v]
        }
    }

    /// Whether a flag or attribute is present.
    public func has(_ name: String) -> Bool { attributes.contains { $0.name == name } }
}
