# Money in Chinese banking documents is grouped by thousands with a comma (1,234,567.50),
# unlike Django's default zh_Hans format (no separator, groups of 4).
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
DATE_FORMAT = "Y年n月j日"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
