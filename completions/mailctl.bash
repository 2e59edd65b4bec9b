_mailctl_completion() {
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

    response=$(env COMP_WORDS="${words[*]}" COMP_CWORD=$cword _MAILCTL_COMPLETE=bash_complete $1)

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

_mailctl_completion_setup() {
    complete -o nosort -F _mailctl_completion mailctl
}

_mailctl_completion_setup;
