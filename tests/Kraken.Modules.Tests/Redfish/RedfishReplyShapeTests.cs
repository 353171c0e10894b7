// Redfish replies whose JSON has the wrong shape (found by the redfish fuzz target, bench/fuzz): each is a clean
// PowerException, never an InvalidOperationException or ArgumentException out of JsonNode.
using System.Net;
using System.Text;
using Kraken.Modules.Power;
using Kraken.Modules.Power.Redfish;
using Kraken.Tree.State;

namespace Kraken.Modules.Tests.Redfish;

public sealed class RedfishReplyShapeTests
{
    private const string Root = """{"Systems":{"@odata.id":"/redfish/v1/Systems"}}""";
    private const string Systems = """{"Members":[{"@odata.id":"/redfish/v1/Systems/1"}]}""";

    [Theory]
    // The crashing input: a 400 whose body is the JSON number 3 (the error detail was read with ["error"]).
    [InlineData(PowerErrorKind.Refused, "refused /redfish/v1/ (400 Bad Request).", "!3")]
    [InlineData(PowerErrorKind.Refused, "refused /redfish/v1/ (400 Bad Request).", "!{\"error\":[1]}")]
    [InlineData(PowerErrorKind.Refused, "refused /redfish/v1/ (400 Bad Request).", "!{\"error\":{\"@Message.ExtendedInfo\":{\"Message\":1}}}")]
    [InlineData(PowerErrorKind.Refused, "refused /redfish/v1/ (400 Bad Request): m.", "!{\"error\":{\"@Message.ExtendedInfo\":[\"x\"],\"message\":\"m\"}}")]
    [InlineData(PowerErrorKind.Protocol, "the service root has no Systems link", """{"Systems":"/redfish/v1/Systems"}""")]
    [InlineData(PowerErrorKind.Protocol, "the service root has no Systems link", """{"Systems":[{"@odata.id":"/redfish/v1/Systems"}]}""")]
    [InlineData(PowerErrorKind.Configuration, "has 0 systems", Root, """{"Members":[1,"x",[]]}""")]
    [InlineData(PowerErrorKind.Protocol, "no Actions/#ComputerSystem.Reset target", Root, Systems, """{"PowerState":"On","Actions":[1]}""")]
    [InlineData(PowerErrorKind.Protocol, "no Actions/#ComputerSystem.Reset target", Root, Systems, """{"PowerState":"On","Actions":"reset"}""")]
    // Found by the second redfish campaign: a member link "///...": new Uri(base, link) threw UriFormatException.
    [InlineData(PowerErrorKind.Protocol, "the link is not a path on this service", Root, """{"Members":[{"@odata.id":"/////redfish/v1/Systems/1"}]}""")]
    [InlineData(PowerErrorKind.Protocol, "the link is not a path on this service", Root, """{"Members":[{"@odata.id":"http://198.18.0.99/redfish/v1/Systems/1"}]}""")]
    // Found by the third campaign: a property named twice parsed, then JsonNode threw ArgumentException on first read.
    [InlineData(PowerErrorKind.Protocol, "not valid JSON", """{"Systems":{"@odata.id":"/redfish/v1/Systems","@odata.id":"/x"}}""")]
    [InlineData(PowerErrorKind.Protocol, "not valid JSON", """{"Systems":{"@odata.id":"/redfish/v1/Systems"},"Systems":1}""")]
    [InlineData(PowerErrorKind.Protocol, "not valid JSON", Root, Systems, """{"PowerState":"On","PowerState":"Off"}""")]
    [InlineData(PowerErrorKind.Refused, "refused /redfish/v1/ (400 Bad Request).", "!{\"error\":{\"message\":\"a\",\"message\":\"b\"}}")]
    public async Task A_reply_of_the_wrong_shape_is_a_power_error(PowerErrorKind kind, string message, params string[] replies)
    {
        using var driver = new RedfishPowerDriver(new InMemoryCredentialProvider().Set("c", "pw"), new RedfishOptions { Auth = RedfishAuth.Basic }, new Canned(replies));
        var target = new PowerTarget(NodeId.FromName("n1"), "redfish", "198.18.0.1") { User = "u", Credential = "c" };
        var e = await Assert.ThrowsAsync<PowerException>(async () => await driver.ExecuteAsync(target, PowerAction.Cycle, CancellationToken.None));
        Assert.Equal(kind, e.Kind);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    /// <summary>The n-th request gets the n-th reply (the last repeats); '!' in front makes it a 400.</summary>
    private sealed class Canned(string[] replies) : HttpMessageHandler
    {
        private int _next;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = replies[Math.Min(_next++, replies.Length - 1)];
            var status = body.StartsWith('!') ? HttpStatusCode.BadRequest : HttpStatusCode.OK;
            return Task.FromResult(new HttpResponseMessage(status)
            {
                Content = new StringContent(body.TrimStart('!'), Encoding.UTF8, "application/json"),
                RequestMessage = request,
            });
        }
    }
}
