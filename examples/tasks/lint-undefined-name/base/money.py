SYMBOLS = {"EUR": "€", "USD": "$"}
