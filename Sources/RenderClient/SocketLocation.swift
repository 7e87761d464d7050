// Where the client looks for dbrenderd's socket: --socket, else $DBRENDER_SOCKET, else the per-user
// socket the daemon makes by default ($XDG_RUNTIME_DIR/dbrender.sock), else the one the systemd socket
// unit creates (/run/dbrender/dbrender.sock).

/// The socket to connect to, and the default locations passed over on the way.
public struct SocketLocation: Sendable, Equatable {
    public var path: String
    /// Default locations that did not exist either, to name them in a "cannot connect" message.
    public var alternatives: [String]

    /// The socket the systemd socket unit creates for a system-wide daemon.
    public static let systemPath = "/run/dbrender/dbrender.sock"

    public init(path: String, alternatives: [String] = []) {
        self.path = path
        self.alternatives = alternatives
    }

    /// Resolves the socket path.
    ///
    /// An explicit path (the flag, then $DBRENDER_SOCKET) is taken as given. Otherwise a login session
    /// always has $XDG_RUNTIME_DIR, so that location would hide a system-wide daemon forever: the first
    /// default location that exists wins, and when none does, the first is reported with the others.
    public static func resolve(flag: String?, environment: [String: String],
                               exists: (String) -> Bool) -> SocketLocation {
        if let flag, !flag.isEmpty { return SocketLocation(path: flag) }
        if let variable = environment["DBRENDER_SOCKET"], !variable.isEmpty { return SocketLocation(path: variable) }
        var candidates: [String] = []
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            candidates.append(runtime.hasSuffix("/") ? runtime + "dbrender.sock" : runtime + "/dbrender.sock")
        }
        candidates.append(systemPath)
        if let present = candidates.first(where: exists) { return SocketLocation(path: present) }
        return SocketLocation(path: candidates[0], alternatives: Array(candidates.dropFirst()))
    }
}
