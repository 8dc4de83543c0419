/// The bodies of the libFuzzer targets in `Fuzz/`, one per input format a peer, a user or a
/// registry can hand Pier. Each takes raw bytes and returns nil when the code under test behaved:
/// refusing the input with an error is fine, a trap is a bug (libFuzzer reports it), and so is a
/// broken property the body checks, such as a decoded datagram that does not re-encode to itself
/// (returned as a description; the fuzzer executables trap on it).
///
/// The test suite replays `Fuzz/Corpus/<name>/` and `Fuzz/Crashers/<name>/` through the same
/// functions, so every crash found becomes a regression test.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// CoAP datagrams (RFC 7252 §3): decode, re-encode, Block1/Block2 options, link format.
    case coapMessage = "coap-message"
    /// A sequence of CoAP requests from two peers through one Block1 reassembler (RFC 7959).
    case coapBlockwise = "coap-blockwise"
    /// OSCORE (RFC 8613): the option value, and a server opening protected requests.
    case oscore = "oscore"
    /// A CBOR activation body of the constrained interface, and the same bytes as JSON.
    case activationBody = "activation-body"
    /// A layer blob (tar, gzip or zstd) unpacked into a scratch directory under tight limits.
    case tarLayer = "tar-layer"
    /// Image references (`registry:5000/ns/name:tag@sha256:…`) and digests.
    case imageReference = "image-reference"
    /// Image manifests, indexes and configs (OCI image-spec v1.1 JSON) with their validation.
    case ociManifest = "oci-manifest"
    /// Compose files, through the stack definition and each service's validation.
    case compose = "compose"
    /// A container create request (agent API JSON) and the runtime's validation of its options.
    case containerSpec = "container-spec"
    /// A service spec (manager API JSON), its validation, and a reconcile pass over a valid one.
    case serviceSpec = "service-spec"
    /// PEM certificates and certificate requests, and the node identity read from a certificate.
    case pem = "pem"
    /// Join tokens (`PIERTKN-1-…-…`).
    case joinToken = "join-token"

    /// Runs one input; nil when the code under test behaved, else the property that broke.
    public func run(_ bytes: UnsafeRawBufferPointer) -> String? {
        run(Array(bytes))
    }

    /// Runs one input; nil when the code under test behaved, else the property that broke.
    public func run(_ bytes: [UInt8]) -> String? {
        switch self {
        case .coapMessage: FuzzCoAP.message(bytes)
        case .coapBlockwise: FuzzCoAP.blockwise(bytes)
        case .oscore: FuzzOSCORE.run(bytes)
        case .activationBody: FuzzSpecs.activationBody(bytes)
        case .tarLayer: FuzzTar.run(bytes)
        case .imageReference: FuzzOCI.reference(bytes)
        case .ociManifest: FuzzOCI.manifest(bytes)
        case .compose: FuzzSpecs.compose(bytes)
        case .containerSpec: FuzzSpecs.container(bytes)
        case .serviceSpec: FuzzSpecs.service(bytes)
        case .pem: FuzzPKI.pem(bytes)
        case .joinToken: FuzzPKI.joinToken(bytes)
        }
    }
}
