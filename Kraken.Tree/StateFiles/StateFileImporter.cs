// Loads a validated cluster description into a store: all of it, or nothing.
using Kraken.Tree.State;

namespace Kraken.Tree.StateFiles;

public enum ImportMode
{
    /// <summary>Create new nodes and replace the Cfg of nodes that exist.</summary>
    Upsert,

    /// <summary>Create new nodes; a node that exists already is an error.</summary>
    CreateOnly,
}

/// <summary>What an import did.</summary>
public sealed record ImportResult(int Created, int Replaced, int Unchanged, IReadOnlyList<string> Warnings);

public static class StateFileImporter
{
    /// <summary>Reads, validates against the store and applies a state file. Throws <see cref="StateFileException"/> and changes nothing on any error.</summary>
    public static ImportResult ImportFile(StateStore store, string path, ImportMode mode = ImportMode.Upsert) =>
        Import(store, File.Exists(path) ? File.ReadAllBytes(path) : throw new StateFileException($"cannot read '{path}': no such file"), mode);

    public static ImportResult Import(StateStore store, ReadOnlyMemory<byte> utf8, ImportMode mode = ImportMode.Upsert)
    {
        var content = StateFileReader.Read(utf8, store.Schema, store.Snapshot(StateView.Cfg));
        return Import(store, content, mode);
    }

    public static ImportResult Import(StateStore store, StateFileContent content, ImportMode mode = ImportMode.Upsert)
    {
        content.ThrowIfInvalid();
        if (mode == ImportMode.CreateOnly)
        {
            var clashes = content.Nodes
                .Select((n, i) => (n, i))
                .Where(x => store.Contains(x.n.Id))
                .Select(x => new StateFileError(x.i, x.n.Id, "/Id", "a node with this id exists already"))
                .ToList();
            if (clashes.Count > 0)
            {
                throw new StateFileException(clashes);
            }
        }

        int created = 0, replaced = 0, unchanged = 0;
        store.Batch(s =>
        {
            foreach (var node in content.Nodes)
            {
                var current = s.Get(StateView.Cfg, node.Id);
                if (current is null)
                {
                    s.Create(node);
                    created++;
                }
                else if (current.ValuesEqual(node))
                {
                    unchanged++;
                }
                else
                {
                    s.Replace(StateView.Cfg, node);
                    replaced++;
                }
            }
        });
        return new ImportResult(created, replaced, unchanged, content.Warnings);
    }
}
