import PierCluster

extension Manager {
    /// The service directory the current state implies (services set aside keep their names out),
    /// computed again only after a commit: the loop asks on every wake, most of which change nothing.
    func directory() -> ServiceDirectory {
        if let directoryCache { return directoryCache }
        let current = ServiceDirectory(services: services.values, tasks: tasks.values)
        directoryCache = current
        return current
    }

    /// Sends the directory to every session whose last one differs: after the welcome, and
    /// whenever a service, a task's address, state or health changes what names answer.
    func pushDirectory() async {
        let current = directory()
        for (nodeID, session) in sessions where session.lastDirectory != current {
            sessions[nodeID]?.lastDirectory = current
            await session.send(.directory(current))
        }
    }
}
