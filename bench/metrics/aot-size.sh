#!/usr/bin/env bash
# What each Prometheus exporter adds to a NativeAOT binary: three minimal slim web hosts, published with
# PublishAot for linux-x64, that differ only in what serves /metrics: nothing (a plain text answer), the
# daemon's exporter (Kraken.Daemon/Metrics, compiled in), OpenTelemetry's Prometheus exporter.
# Prints each binary's size and the difference from the first. Needs clang, lld and zlib1g-dev (as the daemon's
# own AOT publish). Usage: bench/metrics/aot-size.sh [WORKDIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-$(mktemp -d)}"
otel_exporter="$(sed -n 's/.*Include="OpenTelemetry.Exporter.Prometheus.AspNetCore" Version="\([^"]*\)".*/\1/p' "$repo/Directory.Packages.props")"
otel_hosting="$(sed -n 's/.*Include="OpenTelemetry.Extensions.Hosting" Version="\([^"]*\)".*/\1/p' "$repo/Directory.Packages.props")"
cp "$repo/nuget.config" "$work/"

probe() { # name, extra csproj items, usings, services, endpoint, another source file
  mkdir -p "$work/$1"
  printf '%s\n' "${6:-}" > "$work/$1/Extra.cs"
  cat > "$work/$1/$1.csproj" <<CSPROJ
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <PublishAot>true</PublishAot>
    <InvariantGlobalization>true</InvariantGlobalization>
    <NoWarn>\$(NoWarn);CS1591</NoWarn>
  </PropertyGroup>
  <ItemGroup>$2</ItemGroup>
</Project>
CSPROJ
  cat > "$work/$1/Program.cs" <<CS
using System.Diagnostics.Metrics;
$3
var builder = WebApplication.CreateSlimBuilder(args);
$4
var app = builder.Build();
$5
using var meter = new Meter("Kraken.Probe");
meter.CreateCounter<long>("kraken.probe.requests").Add(1);
meter.CreateHistogram<double>("kraken.probe.duration", "s").Record(0.1);
app.Run();
CS
  dotnet publish "$work/$1/$1.csproj" -c Release -r linux-x64 -o "$work/$1/out" -nologo -v quiet >/dev/null
  stat -c %s "$work/$1/out/$1"
}

none=$(probe none "" "" "" 'app.MapGet("/metrics", () => "ok");')
kraken=$(probe kraken \
  "<Compile Include=\"$repo/Kraken.Daemon/Metrics/PrometheusExporter.cs;$repo/Kraken.Daemon/Metrics/Internal/*.cs;$repo/Kraken.Daemon/Cli/BuildInfo.cs\" />" \
  "using Kraken.Daemon.Metrics;" \
  "builder.Services.AddSingleton(new PrometheusExporter());" \
  "app.MapPrometheus();" \
  "namespace Kraken.Daemon.Hosting { internal static class DaemonOptions { public static long OpenFileLimit() => long.MaxValue; } }")
otel=$(probe otel \
  "<PackageReference Include=\"OpenTelemetry.Exporter.Prometheus.AspNetCore\" Version=\"$otel_exporter\" /><PackageReference Include=\"OpenTelemetry.Extensions.Hosting\" Version=\"$otel_hosting\" />" \
  "using OpenTelemetry.Metrics;" \
  "builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(\"Kraken.*\").AddPrometheusExporter());" \
  "app.MapPrometheusScrapingEndpoint();")
printf '%-28s %12s %12s\n' probe bytes added
printf '%-28s %12d %12s\n' "none" "$none" "-"
printf '%-28s %12d %+12d\n' "daemon's exporter" "$kraken" $((kraken - none))
printf '%-28s %12d %+12d\n' "OpenTelemetry $otel_exporter" "$otel" $((otel - none))
