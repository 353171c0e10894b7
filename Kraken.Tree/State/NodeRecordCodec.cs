// Converts node records to and from their protobuf form (kraken.Node) for the wire and the store.
using System.Collections.Immutable;
using Google.Protobuf;
using Kraken.Tree.State.Proto;

namespace Kraken.Tree.State;

public static class NodeRecordCodec
{
    /// <summary>The protobuf message for a record; extensions are encoded under their registered names.</summary>
    public static Node ToProto(NodeRecord record)
    {
        var node = new Node { Id = ByteString.CopyFrom(record.Id.ToByteArray()), Version = record.Version };
        if (record.Nodename is { } name)
        {
            node.Nodename = name;
        }

        if (record.RunState is { } run)
        {
            node.RunState = run;
        }

        if (record.PhysState is { } phys)
        {
            node.PhysState = phys;
        }

        if (record.Arch is { } arch)
        {
            node.Arch = arch;
        }

        if (record.Platform is { } platform)
        {
            node.Platform = platform;
        }

        if (record.ParentId is { } parent)
        {
            node.ParentId = ByteString.CopyFrom(parent.ToByteArray());
        }

        foreach (var b in record.BackupParents)
        {
            node.BackupParents.Add(ByteString.CopyFrom(b.ToByteArray()));
        }

        foreach (var s in record.Services)
        {
            node.Services.Add(s);
        }

        var extensions = record.ExtensionArray;
        for (var i = 0; i < extensions.Length; i++)
        {
            if (extensions[i] is { } ext)
            {
                node.Extensions.Add(new Proto.Extension { Name = record.Schema.Extensions[i].Name, Value = ext.ToByteString() });
            }
        }

        return node;
    }

    public static byte[] ToBytes(NodeRecord record) => ToProto(record).ToByteArray();

    /// <summary>
    /// Builds a record from its protobuf form. Unknown extensions and malformed ids are errors, so a record
    /// from another daemon is either understood whole or rejected.
    /// </summary>
    public static NodeRecord FromProto(Node node, StateSchema schema)
    {
        var id = ReadId(node.Id, "/Id");
        NodeId? parent = node.HasParentId ? ReadId(node.ParentId, "/ParentId") : null;
        var backups = node.BackupParents.Count == 0
            ? ImmutableArray<NodeId>.Empty
            : [.. node.BackupParents.Select(b => ReadId(b, "/BackupParents"))];

        var extensions = Array.Empty<IMessage?>();
        foreach (var e in node.Extensions)
        {
            var info = schema.FindExtension(e.Name)
                ?? throw new UnknownStateUrlException($"/{StateSchema.ExtensionsSegment}/{e.Name}", $"Node {id}: unknown extension '{e.Name}'; registered: {string.Join(", ", schema.Extensions.Select(x => x.Name))}.") { Node = id };
            if (extensions.Length <= info.Index)
            {
                Array.Resize(ref extensions, info.Index + 1);
            }

            try
            {
                extensions[info.Index] = info.Descriptor.Parser.ParseFrom(e.Value);
            }
            catch (InvalidProtocolBufferException ex)
            {
                throw new InvalidStateValueException($"/{StateSchema.ExtensionsSegment}/{info.Name}", $"Node {id}: extension {info.Name} is malformed: {ex.Message}") { Node = id };
            }
        }

        var services = node.Services.Count == 0 ? [] : node.Services.OrderBy(s => s.Id, StringComparer.Ordinal).ToArray();
        for (var i = 1; i < services.Length; i++)
        {
            if (services[i].Id == services[i - 1].Id)
            {
                throw new InvalidStateValueException($"/Services/{services[i].Id}", $"Node {id}: service '{services[i].Id}' appears twice.") { Node = id };
            }
        }

        foreach (var s in services)
        {
            if (!StateSchema.IsValidKey(s.Id))
            {
                throw new InvalidStateValueException("/Services", $"Node {id}: '{s.Id}' is not a valid service id.") { Node = id };
            }
        }

        return new NodeRecord(
            schema,
            id,
            node.Version,
            node.HasNodename ? node.Nodename : null,
            node.HasRunState ? node.RunState : null,
            node.HasPhysState ? node.PhysState : null,
            node.HasArch ? string.Intern(node.Arch) : null,
            node.HasPlatform ? string.Intern(node.Platform) : null,
            parent,
            backups,
            extensions,
            services);
    }

    public static NodeRecord FromBytes(ReadOnlySpan<byte> bytes, StateSchema schema) => FromProto(Node.Parser.ParseFrom(bytes), schema);

    private static NodeId ReadId(ByteString bytes, string url) =>
        bytes.Length == NodeId.Size ? new NodeId(bytes.Span) : throw new InvalidStateValueException(url, $"{url} must be {NodeId.Size} bytes, got {bytes.Length}.");
}
