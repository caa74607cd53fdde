import BosunCore
import Foundation
import Testing

/// Input → expected output. Fake secrets only, shaped like the real thing.
let redactionCorpus: [(String, String)] = [
    // AWS
    ("aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE", "aws configure set aws_access_key_id [REDACTED]"),
    ("export AWS_ACCESS_KEY_ID=ASIAY34FZKBOKMUTVV7A", "export AWS_ACCESS_KEY_ID=[REDACTED]"),
    (
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_access_key=[REDACTED]"
    ),
    (
        "AWS_SECRET_ACCESS_KEY=\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\" aws s3 ls",
        "AWS_SECRET_ACCESS_KEY=\"[REDACTED]\" aws s3 ls"
    ),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key = [REDACTED]"),
    // GitHub
    (
        "git clone https://ghp_1234567890abcdefghijABCDEFGHIJ123456@github.com/o/r.git",
        "git clone https://[REDACTED]@github.com/o/r.git"
    ),
    (
        "echo gho_16C7e42F292c6912E7710c838347Ae178B4a | gh auth login --with-token",
        "echo [REDACTED] | gh auth login --with-token"
    ),
    ("GH_TOKEN=ghu_abcdefghijklmnopqrstuvwxyz0123 gh pr list", "GH_TOKEN=[REDACTED] gh pr list"),
    ("token ghs_abcdefghijklmnopqrstuvwxyz0123 expired", "token [REDACTED] expired"),
    ("refresh ghr_abcdefghijklmnopqrstuvwxyz0123", "refresh [REDACTED]"),
    (
        "gh auth login github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "gh auth login [REDACTED]"
    ),
    (
        "git push https://x-access-token:ghs_abcdefghijklmnopqrstuvwxyz0123@github.com/o/r.git HEAD",
        "git push https://x-access-token:[REDACTED]@github.com/o/r.git HEAD"
    ),
    // GitLab, Slack
    (
        "curl --header \"PRIVATE-TOKEN: glpat-abcdefghij0123456789\" https://gitlab.example.com/api/v4/projects",
        "curl --header \"PRIVATE-TOKEN: [REDACTED]\" https://gitlab.example.com/api/v4/projects"
    ),
    (
        "git remote add origin https://glpat-abcdefghij0123456789@gitlab.com/x",
        "git remote add origin https://[REDACTED]@gitlab.com/x"
    ),
    ("SLACK_BOT=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "SLACK_BOT=[REDACTED]"),
    ("post with xoxp-1234-5678-abcdef to #ops", "post with [REDACTED] to #ops"),
    // OpenAI, Anthropic, Google, Stripe, npm
    ("openai api --key sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "openai api --key [REDACTED]"),
    (
        "curl https://api.openai.com/v1/models -H 'x: sk-proj-abc_DEF-ghi0123456789jklmnopq'",
        "curl https://api.openai.com/v1/models -H 'x: [REDACTED]'"
    ),
    (
        "ANTHROPIC_API_KEY=sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789-_AA claude",
        "ANTHROPIC_API_KEY=[REDACTED] claude"
    ),
    ("key is sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "key is [REDACTED]"),
    ("maps?key=AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "maps?key=[REDACTED]"),
    ("stripe charges list --api-key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe charges list --api-key [REDACTED]"),
    ("uses rk_live_abcdefghij0123456789 and sk_test_abcdefghij0123", "uses [REDACTED] and [REDACTED]"),
    (
        "//registry.npmjs.org/:_authToken npm_abcdefghijklmnopqrstuvwxyz0123456789",
        "//registry.npmjs.org/:_authToken [REDACTED]"
    ),
    // JWT
    (
        "curl -b session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U https://x",
        "curl -b session=[REDACTED] https://x"
    ),
    // Private keys
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\nabcdef==\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----"
    ),
    (
        "printf '-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END OPENSSH PRIVATE KEY-----\\n' > k",
        "printf '-----BEGIN OPENSSH PRIVATE KEY-----\\n[REDACTED]\\n-----END OPENSSH PRIVATE KEY-----\\n' > k"
    ),
    (
        "key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\nafter",
        "key:\n-----BEGIN PRIVATE KEY-----\n[REDACTED]\n-----END PRIVATE KEY-----\nafter"
    ),
    ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIO (truncated", "-----BEGIN EC PRIVATE KEY-----\n[REDACTED]"),
    (
        "a\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----\nb -----BEGIN DSA PRIVATE KEY-----x-----END DSA PRIVATE KEY----- c",
        "a\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n[REDACTED]\n-----END PGP PRIVATE KEY BLOCK-----\nb -----BEGIN DSA PRIVATE KEY-----[REDACTED]-----END DSA PRIVATE KEY----- c"
    ),
    (
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"
    ),
    // Authorization headers
    (
        "curl -H \"Authorization: Bearer abc.def.ghi\" https://api.x",
        "curl -H \"Authorization: Bearer [REDACTED]\" https://api.x"
    ),
    (
        "curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA==' https://api.x",
        "curl -H 'Authorization: Basic [REDACTED]' https://api.x"
    ),
    (
        "curl -H 'authorization:token 0123abcdef' https://api.github.com",
        "curl -H 'authorization:token [REDACTED]' https://api.github.com"
    ),
    (
        "curl -H 'Proxy-Authorization: Basic Zm9vOmJhcg==' https://x",
        "curl -H 'Proxy-Authorization: Basic [REDACTED]' https://x"
    ),
    (
        "{\"headers\": {\"Authorization\": \"Bearer tok123\"}}",
        "{\"headers\": {\"Authorization\": \"Bearer [REDACTED]\"}}"
    ),
    ("Authorization: a1b2c3d4e5f6", "Authorization: [REDACTED]"),
    (
        "curl -H \"Authorization: Bearer $TOKEN\" https://api.x",
        "curl -H \"Authorization: Bearer $TOKEN\" https://api.x"
    ),
    // curl -u and URL credentials
    ("curl -u admin:hunter2 https://x/api", "curl -u admin:[REDACTED] https://x/api"),
    ("curl -s --user 'deploy:s3cr3t pass' https://x", "curl -s --user 'deploy:[REDACTED] pass' https://x"),
    ("curl --user=bob:pw123 https://x", "curl --user=bob:[REDACTED] https://x"),
    ("psql postgres://app:Sup3rS3cret@db.internal:5432/prod", "psql postgres://app:[REDACTED]@db.internal:5432/prod"),
    ("redis-cli -u redis://:p@ss@cache:6379", "redis-cli -u redis://:[REDACTED]@cache:6379"),
    ("git clone https://user:pass@example.com/repo.git", "git clone https://user:[REDACTED]@example.com/repo.git"),
    // Named assignments and flags
    ("FOO_TOKEN=abc ./deploy.sh", "FOO_TOKEN=[REDACTED] ./deploy.sh"),
    ("export DB_PASSWORD=\"x y\"", "export DB_PASSWORD=\"[REDACTED]\""),
    ("export DB_PASSWORD='x y' && run", "export DB_PASSWORD='[REDACTED]' && run"),
    ("mysql --password=x -h db", "mysql --password=[REDACTED] -h db"),
    ("vault login --password x --method userpass", "vault login --password [REDACTED] --method userpass"),
    ("tool --api-key 0123abcd --verbose", "tool --api-key [REDACTED] --verbose"),
    ("tool --client-secret=abc123;echo ok", "tool --client-secret=[REDACTED];echo ok"),
    ("PGPASSWORD=hunter2 psql -h db", "PGPASSWORD=[REDACTED] psql -h db"),
    (
        "curl 'https://x/cb?code=1&access_token=abc123&state=2'",
        "curl 'https://x/cb?code=1&access_token=[REDACTED]&state=2'"
    ),
    ("{\"api_key\": \"abc123\", \"name\": \"x\"}", "{\"api_key\": \"[REDACTED]\", \"name\": \"x\"}"),
    ("{\"user\":\"u\",\"password\":\"p w\"}", "{\"user\":\"u\",\"password\":\"[REDACTED]\"}"),
    (
        "curl -d \"{\\\"password\\\":\\\"hunter2\\\"}\" https://x/login",
        "curl -d \"{\\\"password\\\":\\\"[REDACTED]\\\"}\" https://x/login"
    ),
    ("db:\n  user: app\n  password: hunter2\n", "db:\n  user: app\n  password: [REDACTED]\n"),
    ("- secret: abc\n- name: x", "- secret: [REDACTED]\n- name: x"),
    ("curl -H 'X-Api-Key: 12345abc' https://x", "curl -H 'X-Api-Key: [REDACTED]' https://x"),
    (
        "kubectl create secret generic db --from-literal=password=hunter2",
        "kubectl create secret generic db --from-literal=password=[REDACTED]"
    ),
    ("settings = {'secret_key': 'django-insecure-x'}", "settings = {'secret_key': '[REDACTED]'}"),
    ("SECRET_KEY = 'abc' # django", "SECRET_KEY = '[REDACTED]' # django"),
    ("--credentials=mycreds", "--credentials=[REDACTED]"),
    // .env content
    (
        "cat .env\nDATABASE_URL=postgres://u:pw@h/db\nSTRIPE_KEY=abc123\nSENTRY_DSN=https://k@o.ingest/1\nDEBUG=true\nPORT=3000",
        "cat .env\nDATABASE_URL=postgres://u:[REDACTED]@h/db\nSTRIPE_KEY=[REDACTED]\nSENTRY_DSN=[REDACTED]\nDEBUG=true\nPORT=3000"
    ),
    ("export APP_SALT=xyz\nexport NAME=bosun", "export APP_SALT=[REDACTED]\nexport NAME=bosun"),
    // High-entropy values
    ("config set signature=Xk9mP2qR7sT4vW8yZ1aB3cD5eF6gH0jK", "config set signature=[REDACTED]"),
    ("sig: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "sig: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"),
    ("X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024", "X-Amz-Signature=[REDACTED]"),
    ("webhook: \"q8WzR3nT5yU7iO9pA1sD2fG4hJ6kL0zX\"", "webhook: \"[REDACTED]\""),
    // Negatives: unchanged
    ("echo hello", "echo hello"),
    ("ls -la", "ls -la"),
    (
        "drwxr-xr-x  5 dev dev 4096 Jan  1 12:00 .\n-rw-------  1 dev dev  220 Jan  1 12:00 .env",
        "drwxr-xr-x  5 dev dev 4096 Jan  1 12:00 .\n-rw-------  1 dev dev  220 Jan  1 12:00 .env"
    ),
    (
        "commit 3f2a9c8e1b7d6f5a4c3b2a1908f7e6d5c4b3a291\nAuthor: Jane Doe <jane@example.com>\nDate:   Mon Jan 1 12:00:00 2024\n\n    fix token parser",
        "commit 3f2a9c8e1b7d6f5a4c3b2a1908f7e6d5c4b3a291\nAuthor: Jane Doe <jane@example.com>\nDate:   Mon Jan 1 12:00:00 2024\n\n    fix token parser"
    ),
    ("git checkout 3f2a9c8e1b7d6f5a4c3b2a1908f7e6d5c4b3a291", "git checkout 3f2a9c8e1b7d6f5a4c3b2a1908f7e6d5c4b3a291"),
    ("HEAD=3f2a9c8e1b7d6f5a4c3b2a1908f7e6d5c4b3a291", "HEAD=3f2a9c8e1b7d6f5a4c3b2a1908f7e6d5c4b3a291"),
    ("swift test --filter token_parser", "swift test --filter token_parser"),
    (
        "vim src/token_parser.swift Sources/Auth/PasswordHasher.swift",
        "vim src/token_parser.swift Sources/Auth/PasswordHasher.swift"
    ),
    ("grep -rn PASSWORD_MIN_LENGTH src/", "grep -rn PASSWORD_MIN_LENGTH src/"),
    ("let PASSWORD_MIN_LENGTH = 12", "let PASSWORD_MIN_LENGTH = 12"),
    ("generate(max_tokens=4096, temperature=0)", "generate(max_tokens=4096, temperature=0)"),
    ("export GITHUB_TOKEN=$(gh auth token)", "export GITHUB_TOKEN=$(gh auth token)"),
    ("TOKEN=\"${CI_TOKEN}\" make release", "TOKEN=\"${CI_TOKEN}\" make release"),
    ("--token-file=/run/secrets/token", "--token-file=/run/secrets/token"),
    (
        "GOOGLE_APPLICATION_CREDENTIALS=/home/dev/.config/gcloud/key.json gcloud auth",
        "GOOGLE_APPLICATION_CREDENTIALS=/home/dev/.config/gcloud/key.json gcloud auth"
    ),
    ("cd $OLDPWD && PWD=/tmp ls", "cd $OLDPWD && PWD=/tmp ls"),
    ("cat ~/.aws/credentials ~/.ssh/id_ed25519", "cat ~/.aws/credentials ~/.ssh/id_ed25519"),
    ("docker run -u 1000:1000 -v /src:/src image", "docker run -u 1000:1000 -v /src:/src image"),
    ("git push -u origin feature/rotate-token", "git push -u origin feature/rotate-token"),
    ("func login(user: String, password: String) -> Bool", "func login(user: String, password: String) -> Bool"),
    ("password = os.environ.get('DB_PASSWORD')", "password = os.environ.get('DB_PASSWORD')"),
    ("if password == expected { ok() }", "if password == expected { ok() }"),
    (
        "docker pull alpine@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b",
        "docker pull alpine@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"
    ),
    (
        "trusted_hash = \"sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b\"",
        "trusted_hash = \"sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b\""
    ),
    ("\"id\": \"123e4567-e89b-12d3-a456-426614174000\"", "\"id\": \"123e4567-e89b-12d3-a456-426614174000\""),
    (
        "path: Sources/BosunHostAgent/HookInstallerConfiguration.swift",
        "path: Sources/BosunHostAgent/HookInstallerConfiguration.swift"
    ),
    (
        "--output=/very/long/path/to/some/directory/with/many/segments/file.txt",
        "--output=/very/long/path/to/some/directory/with/many/segments/file.txt"
    ),
    ("Refresh the token: it expired and the build needs it", "Refresh the token: it expired and the build needs it"),
    ("curl https://example.com:8443/health", "curl https://example.com:8443/health"),
    ("ssh git@github.com", "ssh git@github.com"),
    ("task-runner --risk-assessment-for-deployment-pipeline", "task-runner --risk-assessment-for-deployment-pipeline"),
    ("mysql --no-password db", "mysql --no-password db"),
    ("gh secret set DEPLOY_TOKEN < token.txt", "gh secret set DEPLOY_TOKEN < token.txt"),
    ("npm test -- --grep 'rejects an expired token'", "npm test -- --grep 'rejects an expired token'"),
    ("[REDACTED]", "[REDACTED]"),
    ("", ""),
]

@Suite struct RedactorTests {
    @Test func corpusIsLargeEnough() {
        #expect(redactionCorpus.count >= 60)
    }

    @Test(arguments: redactionCorpus)
    func redacts(input: String, expected: String) {
        #expect(Redactor.redact(input) == expected)
    }

    @Test(arguments: redactionCorpus)
    func isIdempotent(input: String, expected: String) {
        let once = Redactor.redact(input)
        #expect(Redactor.redact(once) == once)
    }

    @Test func redactsEveryFreeTextEvidenceField() {
        let secret = "FOO_TOKEN=abc"
        let evidence = Evidence(
            tool: "Bash", command: "curl -u a:b https://x", paths: ["/srv/app/src/token_parser.swift", secret],
            purpose: "needs \(secret)", cwd: "/srv/app", repo: "/srv/app", branch: "main",
            changedFiles: [secret],
            testsRun: [TestRun(command: secret, exitCode: 0, at: Date(timeIntervalSince1970: 0))],
            sideEffects: [secret], network: ["https://u:pw@x.io"], credentials: [secret])
        let redacted = Redactor.redact(evidence)
        #expect(redacted.command == "curl -u a:[REDACTED] https://x")
        #expect(redacted.paths == ["/srv/app/src/token_parser.swift", "FOO_TOKEN=[REDACTED]"])
        #expect(redacted.purpose == "needs FOO_TOKEN=[REDACTED]")
        #expect(redacted.changedFiles == ["FOO_TOKEN=[REDACTED]"])
        #expect(redacted.testsRun.map(\.command) == ["FOO_TOKEN=[REDACTED]"])
        #expect(redacted.testsRun.first?.exitCode == 0)
        #expect(redacted.sideEffects == ["FOO_TOKEN=[REDACTED]"])
        #expect(redacted.network == ["https://u:[REDACTED]@x.io"])
        #expect(redacted.credentials == ["FOO_TOKEN=[REDACTED]"])
        #expect(redacted.tool == "Bash")
        #expect(redacted.cwd == "/srv/app")
        #expect(redacted.branch == "main")
    }

    @Test func leavesCleanEvidenceEqual() {
        let evidence = Evidence(tool: "Bash", command: "git status", purpose: "check the tree", cwd: "/srv/app")
        #expect(Redactor.redact(evidence) == evidence)
    }

    @Test func markerIsStable() {
        #expect(Redactor.marker == "[REDACTED]")
    }
}
