using System.Text;

namespace Xar.Packer.Node;

/// <summary>
/// The image's entrypoint for a Node app, a /bin/sh script (the launcher execs it with XAR_MOUNT set): node with the
/// app's entry file and the arguments. With a bundled node, that one (its folder first on PATH, so the app's
/// <c>#!/usr/bin/env node</c> scripts, node_modules/.bin among them, run with it too, and its libraries on
/// LD_LIBRARY_PATH); else the node on PATH, and when there is none, one line naming the major version the app
/// was packed with.
/// </summary>
public static class NodeLaunchScript
{
    public const string FileName = "xar_node.sh";

    /// <param name="entry">The entry file, relative to the image root (app/...).</param>
    /// <param name="bundled">True when the image has node/bin/node.</param>
    /// <param name="withLibraries">True when the image has node/lib.</param>
    public static string Text(string appName, string entry, NodeRuntime node, bool bundled, bool withLibraries)
    {
        var s = new StringBuilder();
        s.Append("#!/bin/sh\n");
        s.Append($"# Written by xar node for {Comment(appName)}: runs {Comment(entry)} with {(bundled ? "the bundled node " + node.Version : "the node on PATH (packed with " + node.Version + ")")}.\n");
        s.Append("m=\"${XAR_MOUNT:-${0%/*}}\"\n");
        if (bundled)
        {
            s.Append("PATH=\"$m/node/bin${PATH:+:$PATH}\"; export PATH\n");
            if (withLibraries)
                s.Append("LD_LIBRARY_PATH=\"$m/node/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\"; export LD_LIBRARY_PATH\n");
            s.Append("exec \"$m/node/bin/node\" \"$m\"/").Append(Quote(entry)).Append(" \"$@\"\n");
        }
        else
        {
            s.Append("if ! command -v node >/dev/null 2>&1; then\n");
            s.Append($"    echo {Quote($"{appName}: needs Node.js {node.Major} (node on PATH; it was packed with node {node.Version}), and there is no node on PATH")} >&2\n");
            s.Append("    exit 127\n");
            s.Append("fi\n");
            s.Append("exec node \"$m\"/").Append(Quote(entry)).Append(" \"$@\"\n");
        }
        return s.ToString();
    }

    /// <summary>One shell word, whatever the bytes: single quotes, each ' written as '\''.</summary>
    private static string Quote(string text) => "'" + text.Replace("'", "'\\''") + "'";

    private static string Comment(string text) => text.Replace('\n', ' ');
}
