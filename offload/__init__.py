"""pipeline-offload's wire layer and sending side: points, codecs, Dataway writer, offload sender, agent."""

from offload.point import CATEGORIES, Point, UInt

__all__ = ["CATEGORIES", "Point", "UInt"]
