/// The release of the three binaries (`bosun --version`, `bosund --version`, `bosun-host --version`).
public enum BosunVersion {
    public static let current = "0.1.0"
}
