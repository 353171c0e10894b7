// "kraken completion bash|zsh": shell scripts that ask kraken itself what may come next ([suggest] directive).
namespace Kraken.Daemon.Cli;

/// <summary>
/// The scripts hand the words before the cursor to <c>kraken "[suggest:N]" "WORDS"</c>, System.CommandLine's
/// completion directive, which answers with one candidate a line from the same definitions the parser uses: verbs,
/// options, and the values of choice options (<c>-o json</c>). Nothing in them names a verb, so they never go stale.
/// </summary>
internal static class Completion
{
    public static readonly string[] Shells = ["bash", "zsh"];

    public static string Script(string shell) => shell switch
    {
        "bash" => Bash,
        "zsh" => Zsh,
        _ => throw new ArgumentException($"no completion script for '{shell}'", nameof(shell)),
    };

    private const string Bash = """
        # kraken completion for bash. Load it with: source <(kraken completion bash)
        # or install it: kraken completion bash > /etc/bash_completion.d/kraken
        _kraken_complete()
        {
            local line="${COMP_LINE:0:COMP_POINT}"
            local words=""
            # Everything after the command's own name, up to the cursor.
            [[ "$line" == *[[:space:]]* ]] && words="${line#*[[:space:]]}"
            local IFS=$'\n'
            local candidates
            candidates="$("${COMP_WORDS[0]}" "[suggest:${#words}]" "$words" 2>/dev/null)" || return 0
            local current="${COMP_WORDS[COMP_CWORD]}"
            [[ "$current" == "=" ]] && current=""
            COMPREPLY=($(compgen -W "$candidates" -- "$current"))
        }
        complete -o bashdefault -o default -F _kraken_complete kraken

        """;

    private const string Zsh = """
        #compdef kraken
        # kraken completion for zsh. Load it with: source <(kraken completion zsh) (after compinit),
        # or install it as _kraken in a directory of $fpath.
        _kraken() {
            local words_before="${(j: :)words[2,CURRENT]}"
            local -a candidates
            candidates=("${(@f)$("${words[1]}" "[suggest:${#words_before}]" "$words_before" 2>/dev/null)}")
            candidates=(${candidates:#})
            (( ${#candidates} )) && compadd -- "${candidates[@]}"
        }
        if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then
            _kraken "$@"
        else
            compdef _kraken kraken
        fi

        """;
}
