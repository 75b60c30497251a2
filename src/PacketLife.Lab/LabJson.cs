using System.Text.Json.Serialization;
using PacketLife.Lab.Agent;
using PacketLife.Lab.Cluster;

namespace PacketLife.Lab;

/// <summary>Source-generated JSON for the lab's files (lab.json, health.json): no reflection, so the same code runs in
/// a NativeAOT build of the CLI (`scripts/packetlife` publishes one).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LabPlan))]
[JsonSerializable(typeof(LbHealth))]
internal sealed partial class LabFileJson : JsonSerializerContext;

/// <summary>The packet agent's wire protocol: one JSON object per line.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AgentRequest))]
[JsonSerializable(typeof(AgentResponse))]
internal sealed partial class AgentWireJson : JsonSerializerContext;
