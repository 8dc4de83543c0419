import Foundation
import PierAccess
import PierCluster

extension Manager {
    // MARK: Services

    /// Creates a service after checking its spec, and what it asks of the host against what
    /// `caller` may have, and pinning its image to a digest. Nothing is stored when a check fails.
    public func createService(_ spec: ServiceSpec, as caller: Caller = .local) async throws -> Service {
        try Self.validate(spec)
        try Self.review(spec, caller: caller)
        guard service(named: spec.name) == nil, setAsideService(spec.name) == nil else {
            throw ManagerError.conflict("a service named \"\(spec.name)\" already exists; update it or remove it first")
        }
        var spec = spec
        spec.task.container.image = try await pin(spec.task.container.image)
        guard service(named: spec.name) == nil else {
            throw ManagerError.conflict("a service named \"\(spec.name)\" already exists; update it or remove it first")
        }
        let service = Service(id: Identifiers.make(), spec: spec)
        var changes = ChangeSet()
        changes.services.append(service)
        try commit(changes)
        trace("manager: service stored")
        logger.info("service \(spec.name) created", metadata: ["image": "\(spec.task.container.image)"])
        return service
    }

    /// Replaces a service's spec: the tasks roll to the new one under its update config, and
    /// the old spec is kept for `rollback`.
    public func updateService(_ ref: String, spec: ServiceSpec, as caller: Caller = .local) async throws -> Service {
        var service = try lookupService(ref)
        try Self.validate(spec)
        try Self.review(spec, caller: caller, replacing: service.spec)
        guard spec.name == service.spec.name else {
            throw ManagerError.invalid("name: a service cannot be renamed (\(service.spec.name) → \(spec.name)); create a new one")
        }
        var spec = spec
        spec.task.container.image = try await pin(spec.task.container.image)
        guard spec != service.spec else { return service }
        let onlyScale = spec.task == service.spec.task
        service.previousSpec = service.spec
        service.spec = spec
        service.updatedAt = Date()
        if !onlyScale {
            // The reconciler starts the rolling update; it owns `updateStatus` from here.
            service.version += 1
            service.updateStatus = nil
        }
        var changes = ChangeSet()
        changes.services.append(service)
        try commit(changes)
        return service
    }

    /// Refuses a spec whose container asks for more of the host than `caller` may give it
    /// (``PrivilegeReview``); what the spec it replaces already had stays allowed.
    static func review(_ spec: ServiceSpec, caller: Caller, replacing old: ServiceSpec? = nil) throws {
        let kept = old?.task.container.requestedPrivileges ?? []
        if let denied = PrivilegeReview.review(spec.task.container.requestedPrivileges, caller: caller, kept: kept) {
            throw ManagerError.unauthorized("service \(spec.name): \(denied)")
        }
    }

    public func scaleService(_ ref: String, replicas: Int) async throws -> Service {
        let service = try lookupService(ref)
        guard replicas >= 0 else { throw ManagerError.invalid("replicas: \(replicas) is negative") }
        guard case .replicated = service.spec.mode else {
            throw ManagerError.invalid("\(service.spec.name) is a global service; only replicated services can be scaled")
        }
        var spec = service.spec
        spec.mode = .replicated(replicas)
        return try await updateService(ref, spec: spec)
    }

    /// Returns the service to its previous spec, rolled out under its rollback config.
    public func rollbackService(_ ref: String) async throws -> Service {
        var service = try lookupService(ref)
        guard let previous = service.previousSpec else {
            throw ManagerError.invalid("service \(service.spec.name) has no previous spec to roll back to")
        }
        service.previousSpec = service.spec
        service.spec = previous
        service.version += 1
        service.updatedAt = Date()
        service.updateStatus = UpdateStatus(state: .rollbackStarted, message: "manually requested rollback")
        var changes = ChangeSet()
        changes.services.append(service)
        try commit(changes)
        return service
    }

    /// Removes a service and its tasks; agents stop and remove the containers when the
    /// tasks leave their assignments.
    public func removeService(_ ref: String) async throws {
        if let set = setAsideService(ref) {
            var changes = ChangeSet()
            changes.deletedServices.append(set.id)
            changes.deletedTasks = tasks.values.filter { $0.serviceID == set.id }.map(\.id)
            try commit(changes)
            setAsideServices[set.id] = nil
            logger.info("set-aside service \(set.spec.name) removed")
            return
        }
        let service = try lookupService(ref)
        var changes = ChangeSet()
        changes.deletedServices.append(service.id)
        changes.deletedTasks = tasks.values.filter { $0.serviceID == service.id }.map(\.id)
        try commit(changes)
        logger.info("service \(service.spec.name) removed")
    }

    /// Every service, those set aside included (with `invalid` saying why).
    public func listServices() -> [Service] {
        (Array(services.values) + setAsideServices.values).sorted { $0.spec.name < $1.spec.name }
    }

    public func lookupService(_ ref: String) throws -> Service {
        if let s = services[ref] ?? service(named: ref) { return s }
        if let set = setAsideService(ref) {
            throw ManagerError.conflict("service \(set.spec.name) was set aside: \(set.invalid ?? ""); its tasks are left as they are; `pier service rm \(set.spec.name)` removes it")
        }
        let byPrefix = services.values.filter { $0.id.hasPrefix(ref) }
        if byPrefix.count == 1, ref.count >= 3 { return byPrefix[0] }
        throw ManagerError.notFound("no such service: \(ref)")
    }

    func service(named name: String) -> Service? { services.values.first { $0.spec.name == name } }

    func setAsideService(_ ref: String) -> Service? {
        if let s = setAsideServices[ref] ?? setAsideServices.values.first(where: { $0.spec.name == ref }) { return s }
        let byPrefix = setAsideServices.values.filter { $0.id.hasPrefix(ref) }
        return byPrefix.count == 1 && ref.count >= 3 ? byPrefix[0] : nil
    }

    /// Tasks, newest first within each slot, optionally only one service's or one node's.
    public func listTasks(service ref: String? = nil, node nodeRef: String? = nil) throws -> [ClusterTask] {
        let serviceID = try ref.map { try lookupService($0).id }
        let nodeID = try nodeRef.map { try lookupNode($0).id }
        return tasks.values
            .filter { t in (serviceID == nil || t.serviceID == serviceID) && (nodeID == nil || t.nodeID == nodeID) }
            .sorted { a, b in
                if a.serviceName != b.serviceName { return a.serviceName < b.serviceName }
                if (a.slot ?? 0) != (b.slot ?? 0) { return (a.slot ?? 0) < (b.slot ?? 0) }
                return a.createdAt > b.createdAt
            }
    }

    /// A pinned reference stays as it is only if the manager holds it.
    func pin(_ image: String) async throws -> String {
        do { return try await resolveImage(image) } catch {
            throw ManagerError.invalid("image \(image): \(error)")
        }
    }

    static func validate(_ spec: ServiceSpec) throws {
        do { try spec.validate() } catch { throw ManagerError.invalid("\(error)") }
    }
}
