"""`mailctl completion bash|zsh|fish`: print the shell's completion script.

The zsh and fish scripts are click's (`_MAILCTL_COMPLETE=zsh_source mailctl`
prints the same). The bash one is click's adjusted so that addresses complete:
bash splits the words it hands to a completion function at `@` and `:`, so
with click's own script `joe@exa<TAB>` would reach mailctl as three words and
complete nothing. Copies ship in completions/; a test keeps them equal.
"""

from __future__ import annotations

import click

from mailctl.cli.commandtypes import Command

SHELLS = ("bash", "zsh", "fish")
PROG_NAME = "mailctl"
COMPLETE_VAR = "_MAILCTL_COMPLETE"

# click's bash script, except that the words come from COMP_LINE split at blanks
# (not COMP_WORDS, split at COMP_WORDBREAKS), and each candidate loses the part
# of the word that readline keeps (up to its last COMP_WORDBREAKS character;
# before it for @ and $, which bash passes on as part of the word).
BASH_SOURCE = r"""%(complete_func)s() {
    local IFS=$'\n'
    local response line word keep i cword
    local -a words

    # COMP_WORDS is split at COMP_WORDBREAKS, which holds @ and : by default, so
    # joe@example.nl would arrive as three words: split the line at blanks instead.
    line=${COMP_LINE:0:COMP_POINT}
    IFS=$' \t\n' read -r -a words <<< "$line"
    cword=${#words[@]}
    if [[ $line != *[[:blank:]] ]] && ((cword > 0)); then
        cword=$((cword - 1))
    fi
    word=${words[cword]}
    # Readline replaces only what follows the last word-break character, or
    # what starts at it for @ and $ (bash's rl_special_prefixes).
    keep=
    for ((i = ${#word} - 1; i >= 0; i--)); do
        if [[ $COMP_WORDBREAKS == *"${word:i:1}"* ]]; then
            if [[ ${word:i:1} == [@\$] ]]; then
                keep=${word:0:i}
            else
                keep=${word:0:i+1}
            fi
            break
        fi
    done

    response=$(env COMP_WORDS="${words[*]}" COMP_CWORD=$cword %(complete_var)s=bash_complete $1)

    for completion in $response; do
        IFS=',' read type value <<< "$completion"

        if [[ $type == 'dir' ]]; then
            COMPREPLY=()
            compopt -o dirnames
        elif [[ $type == 'file' ]]; then
            COMPREPLY=()
            compopt -o default
        elif [[ $type == 'plain' ]]; then
            COMPREPLY+=("${value#"$keep"}")
        fi
    done

    return 0
}

%(complete_func)s_setup() {
    complete -o nosort -F %(complete_func)s %(prog_name)s
}

%(complete_func)s_setup;
"""


@click.command(cls=Command)
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the TAB completion script for SHELL (bash, zsh or fish).

    \b
    bash: mailctl completion bash > /etc/bash_completion.d/mailctl
    zsh:  mailctl completion zsh > /usr/local/share/zsh/site-functions/_mailctl
    fish: mailctl completion fish > ~/.config/fish/completions/mailctl.fish
    """
    click.echo(completion_script(shell), nl=False)


def completion_script(shell: str) -> str:
    from click.shell_completion import get_completion_class

    from mailctl.cli.root import cli

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click knows all three
        raise click.BadParameter(f"no completion for {shell}")
    completer = cls(cli, {}, PROG_NAME, COMPLETE_VAR)
    if shell == "bash":
        # source() would also run `bash --version`; the template needs no shell.
        script = BASH_SOURCE % completer.source_vars()
    else:
        script = completer.source()
    return script if script.endswith("\n") else script + "\n"
