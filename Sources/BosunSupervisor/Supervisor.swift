/// Facts about the supervisor build.
public enum Supervisor {
    public static let version = "0.1.0"
}
