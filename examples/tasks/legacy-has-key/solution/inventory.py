# -*- coding: utf-8 -*-
"""Inventory helpers (ported from the 2009 tool)."""


class Inventory(object):
    def __init__(self, stock):
        self.stock = stock

    def names(self):
        names = self.stock.keys()
        names = list(names)
        names.sort()
        return names

    def report(self, wanted):
        lines = []
        for name in wanted:
            if name in self.stock:
                count = self.stock[name]
            else:
                count = 0
            lines.append("%s: %d" % (name, count))
        return "\n".join(lines)
