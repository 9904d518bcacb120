import Foundation

/// Where the tests find gVisor's runsc (the Debian package installs /usr/bin/runsc).
public enum GVisorSupport {
    public static var runsc: String? {
        ["/usr/bin/runsc", "/usr/local/bin/runsc"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
