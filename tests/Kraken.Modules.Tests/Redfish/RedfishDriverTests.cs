// The Redfish driver against the test service; the test service itself checked with redfishtool.
using Kraken.Modules.Power;
using Kraken.Modules.Power.Redfish;
using Kraken.Modules.Tests.Interop;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Redfish;

public sealed class RedfishDriverTests : IAsyncLifetime
{
    private readonly RedfishTestService _service = new("1");
    private readonly InMemoryCredentialProvider _credentials = new InMemoryCredentialProvider().Set("rf", RedfishTestService.Password).Set("bad", "guess");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _service.DisposeAsync();

    private PowerTarget Target(string credential = "rf", string? system = null) => new(NodeId.FromName("n1"), "redfish", _service.BaseUrl)
    {
        Nodename = "n1",
        User = RedfishTestService.User,
        Credential = credential,
        System = system,
    };

    [Theory]
    [InlineData(RedfishAuth.Session)]
    [InlineData(RedfishAuth.Basic)]
    public async Task Driver_reads_and_changes_power_state(RedfishAuth auth)
    {
        using var driver = new RedfishPowerDriver(_credentials, new RedfishOptions { Auth = auth });
        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(Target(), PowerAction.Status, CancellationToken.None));
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target(), PowerAction.On, CancellationToken.None));
        Assert.Equal("On", _service.PowerStates["1"]);
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target(), PowerAction.Cycle, CancellationToken.None));
        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(Target(), PowerAction.Off, CancellationToken.None));
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target(), PowerAction.Reset, CancellationToken.None));
        Assert.Equal(["1:On", "1:PowerCycle", "1:ForceOff", "1:On"], _service.Resets);
        Assert.Equal(auth == RedfishAuth.Session ? 1 : 0, driver.SessionsCreated);
    }

    [Fact]
    public async Task Session_is_created_again_when_the_service_forgets_it()
    {
        using var driver = new RedfishPowerDriver(_credentials);
        await driver.ExecuteAsync(Target(), PowerAction.Status, CancellationToken.None);
        await using (var other = new RedfishTestService("1"))
        {
            // Same driver, a service that never saw the token: 401, then a fresh login.
            var target = Target() with { Address = other.BaseUrl };
            Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(target, PowerAction.Status, CancellationToken.None));
        }

        Assert.Equal(2, driver.SessionsCreated);
    }

    [Fact]
    public async Task Wrong_password_is_an_authentication_error_without_the_secret()
    {
        using var driver = new RedfishPowerDriver(_credentials);
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(Target("bad"), PowerAction.On, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Authentication, e.Kind);
        Assert.Contains("refused user 'root'", e.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid user name or password", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("guess", e.Message, StringComparison.Ordinal);
        Assert.Equal("Off", _service.PowerStates["1"]);
    }

    [Fact]
    public async Task System_is_chosen_by_name_and_must_be_named_when_there_are_several()
    {
        await using var service = new RedfishTestService("a", "b");
        using var driver = new RedfishPowerDriver(_credentials);
        var target = Target() with { Address = service.BaseUrl };
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(target, PowerAction.On, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Configuration, e.Kind);
        Assert.Contains("has 2 systems; name one in /Extensions/Power/System", e.Message, StringComparison.Ordinal);
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(target with { System = "b" }, PowerAction.On, CancellationToken.None));
        Assert.Equal(("Off", "On"), (service.PowerStates["a"], service.PowerStates["b"]));
        e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(target with { System = "c" }, PowerAction.On, CancellationToken.None));
        Assert.Contains("has no system 'c'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(RedfishFault.Garbage, "is not valid JSON")]
    [InlineData(RedfishFault.Truncated, "is not valid JSON")]
    [InlineData(RedfishFault.Oversized, "exceeds the 1048576-byte limit")]
    [InlineData(RedfishFault.NoPowerState, "has no PowerState string")]
    public async Task Bad_replies_are_clear_protocol_errors(RedfishFault fault, string expected)
    {
        using var driver = new RedfishPowerDriver(_credentials);
        _service.Fault = fault;
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(Target(), PowerAction.On, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Protocol, e.Kind);
        Assert.Contains("unexpected Redfish reply from /redfish/v1/Systems/1", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Empty(_service.Resets);
    }

    [Fact]
    public async Task Unreachable_service_is_an_unreachable_error()
    {
        using var driver = new RedfishPowerDriver(_credentials);
        var port = _service.Port;
        await _service.DisposeAsync();
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(Target() with { Address = $"http://127.0.0.1:{port}" }, PowerAction.Status, CancellationToken.None));
        Assert.Equal(PowerErrorKind.Unreachable, e.Kind);
    }

    [Theory]
    [InlineData("Basic")]
    [InlineData("Session")]
    public async Task Redfishtool_reads_and_resets_the_test_service_and_the_driver_agrees(string auth)
    {
        var system = RedfishTool(auth, "Systems", "-I", "1");
        Assert.Contains("\"PowerState\": \"Off\"", system, StringComparison.Ordinal);
        Assert.Contains("#ComputerSystem.Reset", system, StringComparison.Ordinal);

        RedfishTool(auth, "Systems", "-I", "1", "reset", "On");
        Assert.Equal("On", _service.PowerStates["1"]);
        using var driver = new RedfishPowerDriver(_credentials);
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(Target(), PowerAction.Status, CancellationToken.None));

        await driver.ExecuteAsync(Target(), PowerAction.Off, CancellationToken.None);
        Assert.Contains("\"PowerState\": \"Off\"", RedfishTool(auth, "Systems", "-I", "1"), StringComparison.Ordinal);
    }

    private string RedfishTool(string auth, params string[] args)
    {
        var (exitCode, output) = ExternalTool.Run("redfishtool", new[] { "-r", $"127.0.0.1:{_service.Port}", "-S", "Never", "-A", auth, "-u", RedfishTestService.User, "-p", RedfishTestService.Password }.Concat(args));
        Assert.True(exitCode == 0, $"redfishtool {string.Join(' ', args)} exited with {exitCode}: {output}");
        return output;
    }
}
