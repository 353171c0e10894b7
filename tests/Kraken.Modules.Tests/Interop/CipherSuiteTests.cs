// Cipher suites 3 and 17 end to end: ipmitool accepts the test BMC, then our driver talks to it.
using Kraken.Modules.Power;
using Kraken.Modules.Power.Ipmi;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Interop;

[Trait("Category", "Interop")]
public sealed class CipherSuiteTests : IDisposable
{
    private readonly TestBmc _bmc = new();

    public void Dispose() => _bmc.Dispose();

    [Theory]
    [InlineData(3)]
    [InlineData(17)]
    public async Task Ipmitool_and_our_driver_both_power_the_test_bmc_with_the_suite(int suite)
    {
        // The independent client first: it proves the test BMC's side of the suite.
        Assert.Equal("Chassis Power is off", IpmiTool(suite, "chassis", "power", "status"));
        Assert.Contains("Up/On", IpmiTool(suite, "chassis", "power", "on"), StringComparison.Ordinal);
        Assert.True(_bmc.PowerOn);

        using var driver = new IpmiPowerDriver(new InMemoryCredentialProvider().Set("c", TestBmc.Password), new IpmiOptions { CipherSuite = suite, PacketTimeout = TimeSpan.FromMilliseconds(300) });
        var target = new PowerTarget(NodeId.FromName("n"), "ipmi", "127.0.0.1") { Port = _bmc.Port, User = TestBmc.User, Credential = "c" };
        Assert.Equal(PowerStatus.On, await driver.ExecuteAsync(target, PowerAction.Status, CancellationToken.None));
        Assert.Equal(PowerStatus.Off, await driver.ExecuteAsync(target, PowerAction.Off, CancellationToken.None));
        Assert.Equal("Chassis Power is off", IpmiTool(suite, "chassis", "power", "status"));
        Assert.All(_bmc.Suites, s => Assert.Equal(suite, s));
    }

    private string IpmiTool(int suite, params string[] command) => ExternalTool.IpmiTool(_bmc.Port, suite, TestBmc.User, TestBmc.Password, command);
}
