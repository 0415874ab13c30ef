from django import template

register = template.Library()


@register.filter
def lead_label(minutes: int) -> str:
    from ..forms import format_leads

    return format_leads([int(minutes)])
