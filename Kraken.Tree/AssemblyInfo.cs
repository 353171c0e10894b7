// Kraken.Tree: state model, state files, reconcile and sync engines.
[assembly: System.CLSCompliant(false)]
