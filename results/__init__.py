"""Result entries shipped with finebench: reported/ holds the paper's numbers (protocol official)."""
