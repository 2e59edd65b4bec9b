"""SQL accounts and the rendered Postfix/Dovecot SQL configuration."""
