// Kraken.Modules: PXE, power control and the other services each tier runs.
[assembly: System.CLSCompliant(false)]
