namespace PacketLife.Lab;

/// <summary>Thrown when code asks the lab to run something outside a namespace the lab's journal owns
/// (the root namespace, another lab's, a shell that could escape the namespace). This is a bug in the caller,
/// never an expected failure: nothing was run.</summary>
public sealed class LabSafetyException(string message) : InvalidOperationException(message);

/// <summary>An expected failure of a lab step (a command that failed, a tool that timed out). The message is
/// one line from <see cref="PacketLife.Core.Diagnostics.LabMessages"/>.</summary>
public sealed class LabException(string message) : Exception(message);
