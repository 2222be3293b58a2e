import PluginHost
import Testing
@testable import Service

@Suite("Configuration: remote tiers")
struct RemoteTierConfigTests {
    @Test("a remote tier needs no model; its keys reach the plugin as settings, remote_model defaulting to the tier's name")
    func keys() throws {
        let c = try Configuration.parse("""
            [tiers.opus]
            plugin = "remote"
            url = "http://gpu-box:8000/v1"
            api_key_file = "/etc/moed/opus.key"
            timeout = "2m"
            temperature = 0.3

            [tiers.named]
            plugin = "remote"
            url = "http://127.0.0.1:9/v1"
            remote_model = "Qwen/Qwen2.5-72B"
            """, path: "x")
        let opus = try #require(c.tier(named: "opus"))
        #expect(opus.model == "")
        #expect(opus.remoteURL == "http://gpu-box:8000/v1")
        #expect(opus.pluginSettings == [
            PluginSetting(key: "url", value: "http://gpu-box:8000/v1"),
            PluginSetting(key: "api_key_file", value: "/etc/moed/opus.key"),
            PluginSetting(key: "timeout", value: "120.0"),
            PluginSetting(key: "remote_model", value: "opus"),
        ])
        #expect(opus.generation.sampling.temperature == 0.3)
        #expect(c.tier(named: "named")?.pluginSettings.last == PluginSetting(key: "remote_model", value: "Qwen/Qwen2.5-72B"))
        let local = try Configuration.parse("[tiers.a]\nplugin = \"dense\"\nmodel = \"m\"\n", path: "x").tiers[0]
        #expect(local.remoteURL == nil && local.pluginSettings.isEmpty)
    }

    @Test("bad remote settings are refused naming the key", arguments: [
        ("[tiers.o]\nplugin = \"remote\"\n", "url"),
        ("[tiers.o]\nplugin = \"remote\"\nurl = \"https://h/v1\"\n", "url"),
        ("[tiers.o]\nplugin = \"remote\"\nurl = \"ftp://h\"\n", "url"),
        ("[tiers.o]\nplugin = \"remote\"\nurl = \"http://h/ v1\"\n", "url"),
        ("[tiers.o]\nplugin = \"remote\"\nurl = \"http://h\"\ntimeout = \"forever\"\n", "timeout"),
        ("[tiers.o]\nplugin = \"remote\"\nurl = \"http://h\"\nremote_model = \"\"\n", "remote_model"),
        ("[tiers.o]\nplugin = \"dense\"\n", "model"),
    ])
    func refused(_ source: String, _ key: String) {
        #expect {
            _ = try Configuration.parse(source, path: "x")
        } throws: { ($0 as? ConfigError)?.key == key }
    }

    @Test("changing a remote tier's url reloads it")
    func reloadOnChange() {
        var a = TierSettings(name: "o", plugin: "remote", model: "")
        a.pluginSettings = [PluginSetting(key: "url", value: "http://a/v1")]
        var b = a
        b.pluginSettings = [PluginSetting(key: "url", value: "http://b/v1")]
        #expect(Scheduler.modelSettingsDiffer(a, b))
        #expect(!Scheduler.modelSettingsDiffer(a, a))
    }
}
